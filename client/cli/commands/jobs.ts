import { Option, type Command } from 'commander';
import { finishedJobStatuses, type Job, type JobStatus } from '../../types.js';
import { groupCommand, leafCommand } from '../command-builder.js';
import type { CliContext, Session } from '../context.js';
import { followJob } from '../follow.js';
import { durationBetween, formatDuration, formatTarget, formatTime, orDash } from '../format.js';
import { nameWidth, paintFor, stageLine } from '../stage-line.js';
import { allPages } from '../all-pages.js';

const jobStatuses: JobStatus[] = ['queued', 'running', ...finishedJobStatuses];

export function jobCommands(program: Command, context: CliContext): void {
  const job = groupCommand(program, 'job', 'Follow, inspect and cancel slow operations', [
    'banger job ls --status running',
    'banger job wait 3f9c2a1b7d4e5f60',
  ]);

  leafCommand(job, 'ls', 'List jobs, newest first', {
    examples: ['banger job ls', 'banger job ls --status failed --kind image.promote'],
  })
    .alias('list')
    .addOption(new Option('--status <status>', 'only jobs with this status').choices(jobStatuses))
    .option('--kind <kind>', 'only jobs of this kind, e.g. image.promote')
    .action(
      context.action(async (session, flags: { status?: JobStatus; kind?: string }) => {
        const jobs = await allPages((page) => session.client().listJobs({ status: flags.status, kind: flags.kind, ...page }));
        if (session.output.json) return session.output.printJson(jobs);
        if (jobs.length === 0) return session.output.line('no jobs');
        session.output.table(
          ['ID', 'KIND', 'TARGET', 'STATUS', 'PROGRESS', 'CREATED'],
          jobs.map((item) => [item.id, item.kind, formatTarget(item), item.status, `${item.progress}%`, formatTime(item.createdAt)]),
        );
      }),
    );

  leafCommand(job, 'show <id>', 'Show one job with its stages', { examples: ['banger job show 3f9c2a1b7d4e5f60'] }).action(
    context.action(async (session, id: string) => {
      const found = await session.client().getJob(id);
      if (session.output.json) return session.output.printJson(found);
      showJob(session, found);
    }),
  );

  leafCommand(job, 'wait <id>', 'Follow a job to its end, showing its stages; exits 1 unless it succeeds', {
    examples: ['banger job wait 3f9c2a1b7d4e5f60'],
  }).action(
    context.action(async (session, id: string) => {
      const found = await session.client().getJob(id);
      return followJob(session, found);
    }),
  );

  leafCommand(job, 'cancel <id>', 'Cancel a queued or running job: its processes are killed and its partial files removed', {
    examples: ['banger job cancel 3f9c2a1b7d4e5f60'],
  }).action(
    context.action(async (session, id: string) => {
      const cancelled = await session.client().cancelJob(id);
      if (session.output.json) return session.output.printJson(cancelled);
      session.output.line(`job ${cancelled.id} (${cancelled.kind} of ${formatTarget(cancelled)}) ${cancelled.status}`);
    }),
  );
}

function showJob(session: Session, job: Job): void {
  const { output } = session;
  const elapsed = durationBetween(job.startedAt, job.finishedAt);
  output.fields([
    ['id', job.id],
    ['kind', job.kind],
    ...targetFields(job),
    ['status', job.status + (job.error ? `: ${job.error.detail}` : '')],
    ['progress', `${job.progress}%`],
    ['created', formatTime(job.createdAt)],
    ['started', formatTime(job.startedAt)],
    ['finished', formatTime(job.finishedAt) + (elapsed === null ? '' : ` (ran ${formatDuration(elapsed)})`)],
    ['cancellable', job.cancellable ? 'yes' : 'no'],
    ['log', orDash(job.logPath)],
  ]);
  if (job.stages.length === 0) return;
  output.line('stages:');
  const paint = paintFor(output.interactive, session.env);
  for (const stage of job.stages) output.line(`  ${stageLine(stage, nameWidth(job.stages), paint)}`);
}

/** The resource with its id; for a job over several, each of them too. */
function targetFields(job: Job): Array<[string, string]> {
  const { target, targets } = job;
  const fields: Array<[string, string]> = [['target', 'id' in target ? `${formatTarget(job)} (id ${target.id})` : `${formatTarget(job)}, ${target.href}`]];
  if (!('id' in target) || targets.length > 1) fields.push(['targets', targets.map((each) => each.name ?? each.id).join(', ') || '-']);
  return fields;
}
