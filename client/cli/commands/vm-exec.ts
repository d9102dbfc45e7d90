import { constants } from 'node:os';
import type { Command } from 'commander';
import type { ExecEvent, ExecRequest } from '../../types.js';
import { leafCommand } from '../command-builder.js';
import type { CliContext, Session } from '../context.js';
import { wholeNumber } from '../format.js';
import { interrupted, interruptible, INTERRUPTED_EXIT_CODE } from '../interrupt.js';
import { UsageError } from '../output.js';

interface ExecFlags {
  env?: string[];
  workdir?: string;
  user?: string;
  interactive?: boolean;
  timeout?: string;
}

export function vmExecCommand(vm: Command, context: CliContext): void {
  leafCommand(vm, 'exec <name> <command...>', 'Run a program in a running VM with live output; exits with its exit status', {
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
  })
    .option('-e, --env <KEY=VALUE>', 'an environment variable (repeatable)', (value: string, all: string[] = []) => [...all, value])
    .option('-w, --workdir <dir>', 'absolute working directory in the guest (default /root)')
    .option('-u, --user <user>', 'run as this guest user instead of root')
    .option('-i, --interactive', 'stream standard input to the program (any size; it sees end-of-file when the input ends)')
    .option('--timeout <seconds>', 'kill the program after this long')
    .action(context.action(async (session, name: string, command: string[], flags: ExecFlags) => runExec(session, name, execBody(command, flags))));
}

function execBody(command: string[], flags: ExecFlags): ExecRequest {
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
  const stdin = body.stdinStream ? process.stdin : undefined;
  const exit = await interruptible(async (signal) => {
    let last: Extract<ExecEvent, { type: 'exit' }> | undefined;
    for await (const event of session.client().exec(name, body, { signal, stdin })) {
      if (event.type === 'output') {
        const bytes = Buffer.from(event.data, event.encoding === 'base64' ? 'base64' : 'utf8');
        (event.stream === 'stdout' ? session.output.stdout : session.output.stderr).write(bytes);
      } else if (event.type === 'exit') {
        last = event;
      }
    }
    return last;
  });
  if (exit === interrupted) return INTERRUPTED_EXIT_CODE;
  if (!exit) throw new Error(`the connection to VM ${name} broke before the program's exit status arrived`);
  if (exit.timedOut) session.output.stderr.write(`banger: killed after the ${body.timeoutSeconds} s timeout\n`);
  if (exit.exitCode !== null) return exit.exitCode;
  const signal = constants.signals[`SIG${exit.signal}` as keyof typeof constants.signals];
  return 128 + (signal ?? constants.signals.SIGKILL);
}
