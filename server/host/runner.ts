import { spawn, type ChildProcess } from 'node:child_process';
import { readProcStat } from './proc.js';

/** Anything that accepts appended output, e.g. a build log stream. */
export interface LogSink {
  write(chunk: string | Buffer): unknown;
}

export interface RunOptions {
  /** Default 10 minutes; 0 or Infinity disables the limit. */
  timeoutMs?: number;
  signal?: AbortSignal;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  /** Receives stdout and stderr chunks as they arrive. */
  log?: LogSink;
  onSpawn?: (pid: number) => void;
  /** Non-zero exit codes that still count as success. */
  allowExitCodes?: number[];
  /** Time between SIGTERM and SIGKILL when stopping the process group. Default 2 s. */
  killGraceMs?: number;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export type RunFailureReason = 'exit' | 'timeout' | 'aborted' | 'spawn';

const DEFAULT_TIMEOUT_MS = 10 * 60 * 1000;
const DEFAULT_KILL_GRACE_MS = 2000;
const ERROR_TAIL_CHARS = 8 * 1024;
// A child that exits while a descendant still holds its stdout/stderr open would
// otherwise keep the promise pending until that descendant dies.
const STDIO_DRAIN_MS = 500;

export interface RunErrorDetails {
  command: string;
  args: readonly string[];
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  stdout: string;
  reason: RunFailureReason;
  cause?: unknown;
}

export class RunError extends Error {
  readonly command: string;
  readonly args: string[];
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
  readonly stdout: string;
  readonly reason: RunFailureReason;

  constructor(message: string, details: RunErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'RunError';
    this.command = details.command;
    this.args = [...details.args];
    this.exitCode = details.exitCode;
    this.signal = details.signal;
    this.stderr = tail(details.stderr);
    this.stdout = tail(details.stdout);
    this.reason = details.reason;
  }
}

function tail(text: string): string {
  return text.length > ERROR_TAIL_CHARS ? text.slice(text.length - ERROR_TAIL_CHARS) : text;
}

const MESSAGE_DETAIL_CHARS = 300;

function lastLine(text: string): string {
  const lines = text.split('\n').map((line) => line.trim()).filter((line) => line !== '');
  const line = lines.at(-1) ?? '';
  // Messages end up in API responses and logs; the full text stays in .stderr.
  return line.length > MESSAGE_DETAIL_CHARS ? `${line.slice(0, MESSAGE_DETAIL_CHARS)}…` : line;
}

function formatDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function isErrnoException(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string';
}

/** Signals the group led by pid, or pid alone if it leads none; false if nothing was there. */
function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch (error) {
    if (!isErrnoException(error) || error.code !== 'ESRCH') throw error;
  }
  try {
    process.kill(pid, signal);
    return true;
  } catch (error) {
    if (!isErrnoException(error) || error.code !== 'ESRCH') throw error;
    return false;
  }
}

function signalGroupQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    signalGroup(pid, signal);
  } catch {
    // Best effort: a group we may not signal (EPERM) is not something the caller can fix.
  }
}

/** The operator's upper bound on every tool's run, and the setting that made it (for the message). */
let deadlineCap: { ms: number; setting: string } | null = null;

/**
 * Caps every command's deadline, including the long ones of image builds, e.g. so that a tool
 * that hangs is given up on sooner. null: each call's own deadline stands.
 */
export function capToolDeadlines(cap: { ms: number; setting: string } | null): void {
  deadlineCap = cap;
}

function deadlineOf(requestedMs: number): { ms: number; cappedBy: string | null } {
  const unlimited = !(requestedMs > 0 && Number.isFinite(requestedMs));
  if (deadlineCap && (unlimited || requestedMs > deadlineCap.ms)) return { ms: deadlineCap.ms, cappedBy: deadlineCap.setting };
  return { ms: requestedMs, cappedBy: null };
}

export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const deadline = deadlineOf(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const timeoutMs = deadline.ms;
  const killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  const { signal: abortSignal, log } = options;

  const fail = (
    message: string,
    reason: RunFailureReason,
    extra: Partial<RunErrorDetails> = {},
  ): RunError =>
    new RunError(message, {
      command,
      args,
      exitCode: null,
      signal: null,
      stderr: '',
      stdout: '',
      reason,
      ...extra,
    });

  if (abortSignal?.aborted) {
    return Promise.reject(fail(`${command} was cancelled`, 'aborted', { cause: abortSignal.reason }));
  }

  return new Promise<RunResult>((resolve, reject) => {
    const stdoutChunks: Buffer[] = [];
    const stderrChunks: Buffer[] = [];
    let stopReason: 'timeout' | 'aborted' | null = null;
    let settled = false;
    let timeoutTimer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let exitCode: number | null = null;
    let exitSignal: NodeJS.Signals | null = null;

    let child: ChildProcess;
    let hookError: unknown;
    try {
      child = spawn(command, [...args], {
        cwd: options.cwd,
        env: options.env,
        // Own process group, so a timeout or cancel can take down everything the
        // command started, not just its top process.
        detached: true,
        stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
        shell: false,
      });
    } catch (error) {
      reject(fail(`could not start ${command}: ${error instanceof Error ? error.message : String(error)}`, 'spawn', { cause: error }));
      return;
    }

    const collected = (chunks: Buffer[]): string => Buffer.concat(chunks).toString('utf8');

    const cleanup = (): void => {
      clearTimeout(timeoutTimer);
      clearTimeout(drainTimer);
      abortSignal?.removeEventListener('abort', onAbort);
      // The SIGKILL follow-up deliberately survives settlement: descendants that
      // ignored SIGTERM may outlive the leader. It must not hold the loop open, though.
      killTimer?.unref();
    };

    const settle = (outcome: { ok: RunResult } | { err: RunError }): void => {
      if (settled) return;
      settled = true;
      cleanup();
      if ('ok' in outcome) resolve(outcome.ok);
      else reject(outcome.err);
    };

    const stop = (reason: 'timeout' | 'aborted'): void => {
      if (settled || stopReason !== null || child.pid === undefined) return;
      stopReason = reason;
      const pid = child.pid;
      signalGroupQuietly(pid, 'SIGTERM');
      killTimer = setTimeout(() => signalGroupQuietly(pid, 'SIGKILL'), killGraceMs);
    };

    function onAbort(): void {
      stop('aborted');
    }

    const record = (chunks: Buffer[]) => (chunk: Buffer): void => {
      chunks.push(chunk);
      if (log) {
        try {
          log.write(chunk);
        } catch {
          // A broken log must not turn a successful command into a failure.
        }
      }
    };
    child.stdout?.on('data', record(stdoutChunks));
    child.stderr?.on('data', record(stderrChunks));

    if (child.stdin) {
      // The command may exit without reading its input; EPIPE is then expected.
      child.stdin.on('error', () => {});
      child.stdin.end(options.input);
    }

    child.on('spawn', () => {
      if (child.pid === undefined || !options.onSpawn) return;
      try {
        options.onSpawn(child.pid);
      } catch (error) {
        // The caller could not record the pid, so nobody could clean this up later.
        hookError = error;
        stop('aborted');
      }
    });

    child.on('error', (error: Error) => {
      if (child.pid === undefined) {
        const message =
          isErrnoException(error) && error.code === 'ENOENT'
            ? `${command}: command not found`
            : `could not start ${command}: ${error.message}`;
        settle({ err: fail(message, 'spawn', { cause: error }) });
      }
      // Other errors (e.g. a failed kill) are followed by 'exit'/'close' anyway.
    });

    child.on('exit', (code, signal) => {
      exitCode = code;
      exitSignal = signal;
      drainTimer = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, STDIO_DRAIN_MS);
    });

    child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
      const finalCode = exitCode ?? code;
      const finalSignal = exitSignal ?? signal;
      const stdout = collected(stdoutChunks);
      const stderr = collected(stderrChunks);
      const details = { exitCode: finalCode, signal: finalSignal, stdout, stderr };

      if (stopReason === 'timeout') {
        const limit = deadline.cappedBy ? ` (the ${deadline.cappedBy} limit)` : '';
        settle({ err: fail(`${command} timed out after ${formatDuration(timeoutMs)}${limit}; its process group was killed`, 'timeout', details) });
        return;
      }
      if (hookError !== undefined) {
        const why = hookError instanceof Error ? hookError.message : String(hookError);
        settle({ err: fail(`${command} was cancelled: onSpawn failed: ${why}`, 'aborted', { ...details, cause: hookError }) });
        return;
      }
      if (stopReason === 'aborted') {
        settle({ err: fail(`${command} was cancelled`, 'aborted', { ...details, cause: abortSignal?.reason }) });
        return;
      }
      if (finalCode !== null && (finalCode === 0 || options.allowExitCodes?.includes(finalCode))) {
        settle({ ok: { stdout, stderr, exitCode: finalCode } });
        return;
      }
      const detail = lastLine(stderr);
      const what = finalCode !== null ? `exited with code ${finalCode}` : `was killed by ${finalSignal ?? 'a signal'}`;
      settle({ err: fail(`${command} ${what}${detail ? `: ${detail}` : ''}`, 'exit', details) });
    });

    if (timeoutMs > 0 && Number.isFinite(timeoutMs)) {
      timeoutTimer = setTimeout(() => stop('timeout'), timeoutMs);
    }
    abortSignal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Boot-relative start time of pid in clock ticks (/proc/<pid>/stat field 22).
 * Together with the pid it identifies a process across pid reuse.
 */
export function processStartTime(pid: number): string | null {
  return readProcStat(pid)?.startTime ?? null;
}

/**
 * Signals a recorded process group only if its leader is still the process we
 * recorded (same pid and start time), so a recycled pid never receives our signal.
 * A process recorded without a start time was gone before it could be identified,
 * and is never signalled.
 */
export function killProcessGroup(pid: number, expectedStartTime: string, signal: NodeJS.Signals = 'SIGKILL'): boolean {
  // 0 and 1 would turn into kill(0)/kill(-1): our own group or every process.
  if (!Number.isInteger(pid) || pid <= 1) return false;
  if (processStartTime(pid) !== expectedStartTime) return false;
  return signalGroup(pid, signal);
}
