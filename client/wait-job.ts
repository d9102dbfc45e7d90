import { ProblemError, WaitTimeoutError } from './errors.js';
import { isFinished, type Job, type JobEvent } from './types.js';

export interface WaitJobOptions {
  /** Called for every event in order, including those replayed after a reconnect. */
  onEvent?: (event: JobEvent) => void;
  signal?: AbortSignal;
  /** Give up (WaitTimeoutError) after this long; the job is not cancelled. */
  timeoutMs?: number;
}

export interface JobSource {
  jobEvents(id: string, options: { lastEventId?: number; signal?: AbortSignal }): AsyncIterable<JobEvent>;
  getJob(id: string, options: { wait?: number; signal?: AbortSignal }): Promise<Job>;
}

const longPollSeconds = 30;
/** How long the daemon may stay down or draining (a restart, say) before waiting gives up. */
const downGraceMs = 30_000;

/**
 * Follows the event stream; when it breaks, long-polls the job (which also paces reconnects) and
 * resumes the stream after the last event seen, so onEvent misses nothing. Only a finished job
 * ends the wait: the stream also ends when the daemon shuts down.
 */
export async function waitJob(source: JobSource, id: string, options: WaitJobOptions = {}): Promise<Job> {
  const signals = [options.signal, options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs)];
  const signal = AbortSignal.any(signals.filter((s): s is AbortSignal => s !== undefined));
  let lastEventId: number | undefined;
  let downSince: number | undefined;

  const fail = (error: unknown): never => {
    if (signal.aborted) {
      if (options.timeoutMs !== undefined && !options.signal?.aborted) throw new WaitTimeoutError(id, options.timeoutMs);
      throw options.signal?.reason ?? error;
    }
    throw error;
  };

  for (;;) {
    try {
      for await (const event of source.jobEvents(id, { lastEventId, signal })) {
        lastEventId = event.id;
        downSince = undefined;
        deliver(options.onEvent, event);
        if (isFinished(event.job.status)) return event.job;
      }
    } catch (error) {
      if (error instanceof CallbackFailure) throw error.cause;
      if (signal.aborted || !isTransient(error)) fail(error);
    }

    try {
      const job = await source.getJob(id, { wait: longPollSeconds, signal });
      downSince = undefined;
      if (isFinished(job.status)) return (await replayMissed(source, id, lastEventId, options.onEvent)) ?? job;
    } catch (error) {
      if (signal.aborted || !isTransient(error)) fail(error);
      downSince ??= Date.now();
      if (Date.now() - downSince > downGraceMs) throw error;
      await pause(1000, signal).catch(fail);
    }
  }
}

/** Marks an error thrown by the caller's onEvent, which must end the wait rather than look like a broken stream. */
class CallbackFailure extends Error {}

function deliver(onEvent: WaitJobOptions['onEvent'], event: JobEvent): void {
  try {
    onEvent?.(event);
  } catch (error) {
    throw new CallbackFailure('onEvent threw', { cause: error });
  }
}

/**
 * Anything but a problem answer is the connection failing (refused, reset, closed mid-stream): a
 * daemon restarting, which will answer again soon, as will one draining with 503.
 */
function isTransient(error: unknown): boolean {
  return !(error instanceof ProblemError) || error.status === 503;
}

/** A finished job's stream replays what we missed and ends at once; best effort only. */
async function replayMissed(
  source: JobSource,
  id: string,
  lastEventId: number | undefined,
  onEvent: WaitJobOptions['onEvent'],
): Promise<Job | undefined> {
  if (!onEvent) return undefined;
  let last: Job | undefined;
  try {
    for await (const event of source.jobEvents(id, { lastEventId, signal: AbortSignal.timeout(10_000) })) {
      deliver(onEvent, event);
      last = event.job;
    }
  } catch (error) {
    if (error instanceof CallbackFailure) throw error.cause;
    // The long-poll already told us the outcome; the missed stage events are a nicety.
  }
  return last && isFinished(last.status) ? last : undefined;
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done() {
      signal.removeEventListener('abort', aborted);
      resolve();
    }
    function aborted() {
      clearTimeout(timer);
      reject(signal.reason);
    }
    signal.addEventListener('abort', aborted, { once: true });
  });
}
