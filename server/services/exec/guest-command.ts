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

/**
 * How long the guest's SSH server may take to open a channel. ssh2 waits for ever; a connection
 * that stopped answering (seen once under heavy load) would hang every request on it.
 */
const CHANNEL_OPEN_TIMEOUT_MS = 60_000;

/**
 * client.exec, bounded: past the timeout the connection is ended (GuestShells then opens a new
 * one for the next request) and the call rejects; a channel that opens after that is closed.
 * attach runs inside ssh2's callback, before anything else: the packets after the channel's
 * opening (output, exit status, close) can arrive in the same read, and their events would be
 * gone by the time a promise's continuation ran.
 */
export function openCommandChannel<T>(client: ssh2.Client, commandLine: string, attach: (channel: ssh2.ClientChannel) => T, timeoutMs = CHANNEL_OPEN_TIMEOUT_MS): Promise<T> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      client.end();
      reject(new Error(`no channel within ${Math.round(timeoutMs / 1000)} s; the connection was reset`));
    }, timeoutMs);
    client.exec(commandLine, (error, channel) => {
      clearTimeout(timer);
      if (settled) {
        channel?.close();
        return;
      }
      settled = true;
      if (error) return reject(error);
      try {
        resolve(attach(channel));
      } catch (attachError) {
        reject(attachError);
      }
    });
  });
}

export function startGuestCommand(client: ssh2.Client, command: PreparedCommand): Promise<GuestCommand> {
  return openCommandChannel(client, command.commandLine, (channel) => {
    let stderr = '';
    channel.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-STDERR_KEEP);
    });
    let exitCode: number | null = null;
    channel.on('exit', (code: number | null) => {
      exitCode = typeof code === 'number' ? code : null;
    });
    let killed = false;
    const exit = new Promise<{ exitCode: number | null; stderr: string }>((done) => {
      channel.on('close', () => {
        command.finish(killed ? 'killed' : 'ended');
        done({ exitCode, stderr: stderr.trim() });
      });
    });
    const kill = (): void => {
      killed = true;
      killGuestGroup(client, command.execId);
    };
    return { stdout: channel, stdin: channel, exit, kill };
  }).catch((error: unknown) => {
    command.finish('not-run');
    throw error;
  });
}

// A kill whose channel the server refused (all in use for a moment) is tried again this often.
const KILL_RETRY_MS = 500;
const KILL_ATTEMPTS = 5;

/**
 * SIGKILL to a command's process group, over a channel of its own (see killCommandLine). The
 * killed command's own group file is removed by the kill alone (PreparedCommand 'killed'): a
 * later command line's cleanup removing it first would leave the kill nothing to read.
 */
export function killGuestGroup(client: ssh2.Client, execId: string, attempt = 1): void {
  const retry = (): void => {
    if (attempt < KILL_ATTEMPTS) setTimeout(() => killGuestGroup(client, execId, attempt + 1), KILL_RETRY_MS).unref();
  };
  try {
    client.exec(killCommandLine(execId), (error, killer) => {
      if (error) return retry();
      killer.resume();
      killer.stderr.resume();
      killer.end();
    });
  } catch {
    // The connection is closed: there is nothing left to send the kill over.
  }
}
