import { Command, CommanderError, Option } from 'commander';
import { imageCommands } from './commands/images.js';
import { jobCommands } from './commands/jobs.js';
import { systemCommands } from './commands/system.js';
import { snapshotCommands } from './commands/snapshots.js';
import { vmCommands } from './commands/vms.js';
import { runCommand } from './commands/run.js';
import { CliContext } from './context.js';
import { Output } from './output.js';

/** Runs the `banger` command line; resolves with the exit code (0 ok, 1 failed, 2 usage). */
export async function runCli(argv: string[]): Promise<number> {
  const context = new CliContext(process.stdout, process.stderr);
  const program = buildProgram(context);
  try {
    await program.parseAsync(argv);
    return context.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    new Output(process.stdout, process.stderr, false).error(error);
    return 1;
  } finally {
    // Keep-alive sockets would hold the process open for seconds after the answer.
    await context.close();
  }
}

function buildProgram(context: CliContext): Command {
  const program = new Command('banger')
    .description('banger: microVMs on one Linux host. Talks to the banger daemon over its unix socket, or over TCP with --url and --token.')
    .addOption(new Option('--socket <path>', 'daemon socket (env BANGER_SOCKET; default <state dir>/banger.sock, the state dir being BANGER_STATE_DIR, /var/lib/banger for root, else ~/.local/state/banger)'))
    .addOption(new Option('--url <url>', 'reach the daemon over TCP instead, e.g. http://127.0.0.1:7070 (env BANGER_URL)'))
    .addOption(new Option('--token <token>', 'bearer token for --url (env BANGER_TOKEN); other local users can see it in the process list, so prefer BANGER_TOKEN or --token-file'))
    .addOption(new Option('--token-file <path>', 'read the bearer token for --url from this file, mode 0600 (env BANGER_TOKEN_FILE)'))
    .option('--json', 'print results as JSON (errors stay text on stderr)')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  $ banger serve                                   # run the daemon\n' +
        '  $ banger vm create web --image default --port 22\n' +
        '  $ banger image register debian --rootfs ./debian.ext4 --kernel /boot/vmlinuz\n' +
        '  $ banger image promote debian\n' +
        '  $ banger job ls --status running\n' +
        '  $ banger --url http://10.0.0.2:7070 --token "$TOKEN" image ls\n' +
        '\nExit codes: 0 success, 1 the daemon refused or a job failed, 2 usage error.\n',
    );

  program
    .command('serve')
    .summary('Run the banger daemon in the foreground')
    .description(
      'Run the banger daemon in the foreground: the REST API on a unix socket, and on TCP too with --listen.\n' +
        'It stops cleanly on SIGTERM or SIGINT: running jobs are interrupted and their partial files removed.',
    )
    .option(
      '--state-dir <dir>',
      'where the database, images and logs live (env BANGER_STATE_DIR; default /var/lib/banger for root, else $XDG_STATE_HOME/banger, i.e. ~/.local/state/banger)',
    )
    .option('--socket <path>', 'unix socket to listen on (env BANGER_SOCKET; default <state-dir>/banger.sock)')
    .option('--listen <host:port>', 'also listen on TCP, e.g. 127.0.0.1:7070 (env BANGER_LISTEN); needs a token')
    .option('--token-file <path>', 'read the bearer token TCP clients must send from this file, which only its owner may read (chmod 600) (env BANGER_TOKEN_FILE)')
    .option(
      '--token <token>',
      'the bearer token itself, 16+ characters (env BANGER_TOKEN); any local user can read it in /proc/PID/cmdline, so the daemon warns: prefer --token-file or BANGER_TOKEN',
    )
    .configureHelp({ showGlobalOptions: false })
    .addHelpText(
      'after',
      '\nFlags win over environment variables; --token and --token-file (BANGER_TOKEN and BANGER_TOKEN_FILE) exclude each other.\n' +
        'The state dir is made 0700 and everything the daemon writes is its user\'s alone (umask 077); the socket is 0660,\n' +
        'so for other users put it outside the state dir (--socket /run/banger/banger.sock, in a dir you set up).\n' +
        'Also read: BANGER_DEFAULT_KERNEL, BANGER_DEFAULT_INITRD, BANGER_DEFAULT_MODULES_DIR, BANGER_LOG_LEVEL,\n' +
        'BANGER_MAX_CONCURRENT_JOBS.\n' +
        '\nExamples:\n' +
        '  $ banger serve\n' +
        '  $ (umask 077; openssl rand -hex 32 > /etc/banger/token)\n' +
        '  $ banger serve --state-dir /srv/banger --listen 127.0.0.1:7070 --token-file /etc/banger/token\n',
    )
    .action(async (_flags, command: Command) => {
      // --socket, --token and --token-file are global options too: commander may have handed them to the program.
      const { stateDir, socket, listen, token, tokenFile } = command.optsWithGlobals();
      const options = { stateDir, socket, listen, token, tokenFile };
      await (await loadDaemon()).serve(options);
      await new Promise(() => {});
    });

  runCommand(program, context);
  vmCommands(program, context);
  snapshotCommands(program, context);
  imageCommands(program, context);
  jobCommands(program, context);
  systemCommands(program, context);
  return program;
}

/**
 * The daemon, loaded only for serve, so that every other command stays a thin HTTP client. The
 * path is not a literal: the client package (scripts/pack-client.ts) is compiled without
 * server/, and there serve says so instead of failing to import.
 */
async function loadDaemon(): Promise<{ serve(options: Record<string, unknown>): Promise<void> }> {
  const daemonModule = '../../server/main.js';
  try {
    return (await import(daemonModule)) as { serve(options: Record<string, unknown>): Promise<void> };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new Error('this banger is the client package: it talks to a daemon (--socket or --url) but cannot run one; install banger itself on the VM host for serve');
  }
}
