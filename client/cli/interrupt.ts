import { constants } from 'node:os';

/** The exit code of a command stopped with Ctrl-C, as a shell reports a program killed by SIGINT. */
export const INTERRUPTED_EXIT_CODE = 128 + constants.signals.SIGINT;

/** What interruptible resolves with when Ctrl-C stopped the work. */
export const interrupted = Symbol('interrupted');

/**
 * Runs work with a signal that Ctrl-C (or SIGTERM) aborts instead of killing this process, so
 * that what the work started is stopped on the daemon's side and its partial files removed. The
 * failure the abort causes is expected: it resolves as `interrupted` instead.
 */
export async function interruptible<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T | typeof interrupted> {
  const cancel = new AbortController();
  const interrupt = (): void => cancel.abort();
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    return await work(cancel.signal);
  } catch (error) {
    if (cancel.signal.aborted) return interrupted;
    throw error;
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
}
