import type { Job } from '../types.js';
import type { Session } from './context.js';
import { durationBetween, formatDuration, formatTarget } from './format.js';
import { createStageProgress } from './progress.js';

/** Exit code of a shell killed by SIGINT: what scripts expect after Ctrl-C. */
const interruptedExitCode = 130;

/**
 * Watches a job to its end with live stages, then reports it. Ctrl-C stops watching, not the
 * job, and says how to get back to it.
 */
export async function followJob(session: Session, job: Job): Promise<number> {
  const { output } = session;
  const progress = output.json ? undefined : createStageProgress(output.stdout, { tty: output.interactive, env: session.env });
  const controller = new AbortController();
  const onInterrupt = () => controller.abort();
  process.once('SIGINT', onInterrupt);
  let finished: Job;
  try {
    finished = await session.client().waitJob(job.id, {
      signal: controller.signal,
      onEvent: (event) => progress?.update(event.job),
    });
  } catch (error) {
    progress?.stop();
    if (!controller.signal.aborted) throw error;
    output.stderr.write(`stopped watching job ${job.id}; it goes on. Follow it: banger job wait ${job.id}, or stop it: banger job cancel ${job.id}\n`);
    return interruptedExitCode;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
  progress?.stop(finished);
  return report(session, finished);
}

function report(session: Session, job: Job): number {
  const { output } = session;
  if (output.json) output.printJson(job);
  if (job.status === 'succeeded') {
    if (!output.json) output.line(successLine(job));
    return 0;
  }
  if (job.error) output.problem(job.error);
  else output.stderr.write(`error: job ${job.id} (${job.kind}) ${job.status}\n`);
  return 1;
}

function successLine(job: Job): string {
  const elapsed = durationBetween(job.createdAt, job.finishedAt);
  const took = elapsed === null ? '' : ` in ${formatDuration(elapsed)}`;
  if (job.kind === 'image.promote') return `${formatTarget(job)} promoted${took}`;
  return `job ${job.id} (${job.kind} of ${formatTarget(job)}) succeeded${took}`;
}

/** --no-wait prints the job (its id, or JSON) and returns at once; otherwise the job is followed to its end. */
export async function finishJob(session: Session, job: Job, wait: boolean): Promise<number> {
  if (wait) return followJob(session, job);
  printJobId(session, job);
  return 0;
}

export function printJobId(session: Session, job: Job): void {
  if (session.output.json) session.output.printJson(job);
  else session.output.line(job.id);
}
