import { constants } from 'node:os';
import type { Command } from 'commander';
import type { ExecEvent, ExecRequest } from '../../types.js';
import { collect, leafCommand } from '../command-builder.js';
import type { CliContext, Session } from '../context.js';
import { wholeNumber } from '../format.js';
import { interrupted, interruptible, INTERRUPTED_EXIT_CODE } from '../interrupt.js';
import { UsageError } from '../output.js';

export interface ExecFlags {
  env?: string[];
  workdir?: string;
  user?: string;
  interactive?: boolean;
  timeout?: string;
}

export function vmExecCommand(vm: Command, context: CliContext): void {
  const command = leafCommand(vm, 'exec <name> <command...>', 'Run a program in a running VM with live output; exits with its exit status', {
    details:
      'Goes through the daemon (POST /vms/{name}/exec) over the guest shell channel, so it needs no SSH port or guest network. ' +
      'Put the command after --; each word reaches the program as one argument, never through a shell (run sh -c "…" for one). ' +
      'stdout and stderr stay apart; a program killed by signal N exits 128+N; Ctrl-C kills it and everything it started.',
    examples: [
      'banger vm exec web -- uname -a',
      'banger vm exec web -e CI=1 -w /root/src -- make test',
      'echo hi | banger vm exec web -i -- cat',
      'banger vm exec web -i -- sha256sum < big.iso',
    ],
  });
  withExecOptions(command).action(
    context.action(async (session, name: string, argv: string[], flags: ExecFlags) => runExec(session, name, execBody(argv, flags))),
  );
}

/** The options that shape what runs in the guest, shared with banger run. */
export function withExecOptions(command: Command): Command {
  return command
    .option('-e, --env <KEY=VALUE>', 'an environment variable (repeatable)', collect)
    .option('-w, --workdir <dir>', 'absolute working directory in the guest (default /root)')
    .option('-u, --user <user>', 'run as this guest user instead of root')
    .option('-i, --interactive', 'stream standard input to the program (any size; it sees end-of-file when the input ends)')
    .option('--timeout <seconds>', 'kill the program after this long');
}

export function execBody(command: string[], flags: ExecFlags): ExecRequest {
  const body: ExecRequest = { command, cwd: flags.workdir, user: flags.user, timeoutSeconds: wholeNumber('--timeout', flags.timeout) };
  if (flags.env) body.env = Object.fromEntries(flags.env.map(envPair));
  if (flags.interactive) body.stdinStream = true;
  return body;
}

function envPair(pair: string): [string, string] {
  const equals = pair.indexOf('=');
  if (equals < 1) throw new UsageError(`--env expects KEY=VALUE, got "${pair}"`);
  return [pair.slice(0, equals), pair.slice(equals + 1)];
}

async function runExec(session: Session, name: string, body: ExecRequest): Promise<number> {
  const status = await interruptible((signal) => streamExec(session, name, body, signal));
  return status === interrupted ? INTERRUPTED_EXIT_CODE : status;
}

/**
 * Runs the program with its output on this terminal, as it comes; resolves with its exit status
 * as a shell reports it (128+N for signal N). Aborting the signal kills it in the guest.
 */
export async function streamExec(session: Session, name: string, body: ExecRequest, signal: AbortSignal): Promise<number> {
  const stdin = body.stdinStream ? process.stdin : undefined;
  let exit: Extract<ExecEvent, { type: 'exit' }> | undefined;
  for await (const event of session.client().exec(name, body, { signal, stdin })) {
    if (event.type === 'output') {
      const bytes = Buffer.from(event.data, event.encoding === 'base64' ? 'base64' : 'utf8');
      (event.stream === 'stdout' ? session.output.stdout : session.output.stderr).write(bytes);
    } else if (event.type === 'exit') {
      exit = event;
    }
  }
  if (!exit) throw new Error(`the connection to VM ${name} broke before the program's exit status arrived`);
  if (exit.timedOut) session.output.stderr.write(`banger: killed after the ${body.timeoutSeconds} s timeout\n`);
  if (exit.exitCode !== null) return exit.exitCode;
  const number = constants.signals[`SIG${exit.signal}` as keyof typeof constants.signals];
  return 128 + (number ?? constants.signals.SIGKILL);
}
