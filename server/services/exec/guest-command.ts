import type { Readable } from 'node:stream';
import type ssh2 from 'ssh2';
import { killCommandLine } from './exec-command.js';
import type { PreparedCommand } from './guest-shells.js';

/**
 * A program of the daemon's own (tar, for directories) run in a guest with its stdout as raw
 * bytes, for a reader that wants the stream itself rather than ExecEvents. Same command line as
 * an exec, so that kill() reaches everything it started.
 */
export interface GuestCommand {
  stdout: Readable;
  /** Its standard input, open until ended. */
  stdin: NodeJS.WritableStream;
  /** Resolves once it ended, with its exit code (null after a signal) and the tail of its stderr. */
  exit: Promise<{ exitCode: number | null; stderr: string }>;
  kill(): void;
}

const STDERR_KEEP = 4096;

export function startGuestCommand(client: ssh2.Client, command: PreparedCommand): Promise<GuestCommand> {
  return new Promise((resolve, reject) => {
    client.exec(command.commandLine, (error, channel) => {
      if (error) {
        command.finish(false);
        return reject(error);
      }
      let stderr = '';
      channel.stderr.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-STDERR_KEEP);
      });
      let exitCode: number | null = null;
      channel.on('exit', (code: number | null) => {
        exitCode = typeof code === 'number' ? code : null;
      });
      const exit = new Promise<{ exitCode: number | null; stderr: string }>((done) => {
        channel.on('close', () => {
          command.finish(true);
          done({ exitCode, stderr: stderr.trim() });
        });
      });
      resolve({ stdout: channel, stdin: channel, exit, kill: () => killGuestGroup(client, command.execId) });
    });
  });
}

/** SIGKILL to a command's process group, over a channel of its own (see killCommandLine). */
export function killGuestGroup(client: ssh2.Client, execId: string): void {
  client.exec(killCommandLine(execId), (error, killer) => {
    if (error) return;
    killer.resume();
    killer.stderr.resume();
    killer.end();
  });
}
