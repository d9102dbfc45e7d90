import { spawn } from 'node:child_process';
import { closeSync, openSync, statSync } from 'node:fs';
import { readProcStat } from './proc.js';
import { processStartTime } from './runner.js';

/**
 * The runner's companion for processes that must outlive the daemon (hypervisors):
 * nothing here waits for exit or holds a pipe, so the daemon can restart and find
 * the process again from its pid and start time alone.
 */

export interface SpawnDetachedOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Truncated at spawn. May be the same file as stderrPath. */
  stdoutPath: string;
  stderrPath: string;
}

/** Serialisable identity of a detached process: pid alone could be reused. */
export interface DetachedProcess {
  pid: number;
  /** processStartTime(pid) at spawn. */
  startTime: string;
}

export class SpawnDetachedError extends Error {
  constructor(
    message: string,
    readonly command: string,
    readonly reason: 'not-found' | 'spawn' | 'exited',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SpawnDetachedError';
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function openLog(path: string): number {
  return openSync(path, 'w', 0o640);
}

/**
 * Starts command in its own session and process group (detached spawns call
 * setsid), stdin from /dev/null and output into files, and resolves once it runs.
 */
export function spawnDetached(command: string, args: readonly string[], options: SpawnDetachedOptions): Promise<DetachedProcess> {
  return new Promise((resolve, reject) => {
    // A missing cwd fails the spawn with ENOENT too, which would read as a missing binary.
    if (options.cwd !== undefined && !isDirectory(options.cwd)) {
      reject(new SpawnDetachedError(`could not start ${command}: working directory ${options.cwd} does not exist`, command, 'spawn'));
      return;
    }
    // Pipes would tie the process to this one: when the daemon dies, the next
    // write would fail (SIGPIPE or EPIPE) in the hypervisor. Files have no reader to lose.
    const stdoutFd = openLog(options.stdoutPath);
    let stderrFd: number;
    try {
      stderrFd = options.stderrPath === options.stdoutPath ? stdoutFd : openLog(options.stderrPath);
    } catch (error) {
      closeSync(stdoutFd);
      reject(error);
      return;
    }
    const closeFds = (): void => {
      closeSync(stdoutFd);
      if (stderrFd !== stdoutFd) closeSync(stderrFd);
    };

    let child;
    try {
      child = spawn(command, [...args], {
        cwd: options.cwd,
        env: options.env,
        detached: true,
        stdio: ['ignore', stdoutFd, stderrFd],
        shell: false,
      });
    } catch (error) {
      closeFds();
      reject(new SpawnDetachedError(`could not start ${command}: ${error instanceof Error ? error.message : String(error)}`, command, 'spawn', { cause: error }));
      return;
    }
    // The child holds its own copies once spawn() has returned.
    closeFds();

    child.on('error', (error: NodeJS.ErrnoException) => {
      // Once spawned, errors could only come from signalling it, which this module never does.
      if (child.pid !== undefined) return;
      const message = error.code === 'ENOENT' ? `${command}: command not found` : `could not start ${command}: ${error.message}`;
      reject(new SpawnDetachedError(message, command, error.code === 'ENOENT' ? 'not-found' : 'spawn', { cause: error }));
    });
    child.once('spawn', () => {
      const pid = child.pid;
      // A process that is already reaped has no start time, and without one it
      // could never be identified safely later.
      const startTime = pid === undefined ? null : processStartTime(pid);
      // Node still reaps it if it exits while we live; unref only stops it from
      // keeping this process's event loop alive.
      child.unref();
      if (pid === undefined || startTime === null) {
        reject(new SpawnDetachedError(`${command} exited immediately; see ${options.stderrPath}`, command, 'exited'));
        return;
      }
      resolve({ pid, startTime });
    });
  });
}

/** Whether pid still names the process that started at startTime (a zombie included). */
export function isSameProcess(pid: number, startTime: string): boolean {
  return readProcStat(pid)?.startTime === startTime;
}

/** Whether that process exists and has not exited: a zombie is dead, just not yet reaped. */
export function isProcessAlive(pid: number, startTime: string): boolean {
  const stat = readProcStat(pid);
  return stat !== null && stat.startTime === startTime && stat.state !== 'Z' && stat.state !== 'X';
}

const EXIT_POLL_MS = 50;

/**
 * Waits until the process has exited; true if it did within timeoutMs. Polls /proc
 * because the process may not be our child (after a daemon restart it is init's).
 */
export async function waitForExit(pid: number, startTime: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!isProcessAlive(pid, startTime)) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await new Promise((resolve) => setTimeout(resolve, Math.min(EXIT_POLL_MS, left)));
  }
}
