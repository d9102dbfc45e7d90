import type { LogSink } from '../runner.js';

/** What every step of a kernel fetch shares: its options, progress lines and errno checks. */

export interface KernelFetchOptions {
  signal?: AbortSignal;
  log?: LogSink;
  /** Debian metapackage that names the current kernel package. */
  metapackage?: string;
}

export function say(log: LogSink | undefined, message: string): void {
  try {
    log?.write(`${message}\n`);
  } catch {
    // Progress lines are a courtesy; a broken log must not fail the fetch.
  }
}

export function isErrno(error: unknown, ...codes: string[]): boolean {
  return error instanceof Error && codes.includes((error as NodeJS.ErrnoException).code ?? '');
}
