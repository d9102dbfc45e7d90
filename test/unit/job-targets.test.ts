// The job service over a real SQLite file: stages named by a job kind, jobs over several targets,
// the database's one-active-job-per-resource guarantee, and GET /jobs filtering by any target.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { buildApp, type Services } from '../../server/app.js';
import { openDatabase } from '../../server/db/database.js';
import { IdempotencyRepository } from '../../server/db/repositories/idempotency.js';
import { JobRepository } from '../../server/db/repositories/jobs.js';
import { BangerError } from '../../server/services/errors.js';
import { defineJobKind, describeStages } from '../../server/services/jobs/job-kind.js';
import { JobService } from '../../server/services/jobs/job-service.js';
import { DaemonMetrics } from '../../server/services/metrics/daemon-metrics.js';
import { StorageGuard } from '../../server/services/storage/storage-guard.js';
import type { Job, JobDefinition } from '../../server/services/jobs/types.js';

const workJob = defineJobKind('test.work', ['prepare', 'apply'] as const);
const perVmJob = defineJobKind('test.each', ['delete'] as const, { eachTarget: true });
const imageWorkJob = defineJobKind('image.work', ['one'] as const);
const logger = pino({ level: 'silent' });

async function openJobs(t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'banger-job-targets-'));
  const database = openDatabase(join(dir, 'banger.db'));
  const records = new JobRepository(database.db);
  const storage = new StorageGuard({ dir, reservePath: join(dir, 'space-reserve'), settings: { minFreeBytes: 0, reserveBytes: 0 }, logger });
  const jobs = new JobService({ database, jobs: records, logger, storage });
  t.teardown(async () => {
    await jobs.shutdown(1000);
    database.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { database, records, jobs, storage };
}

/** A job body that waits until released, so that the job stays active meanwhile. */
function held() {
  let release = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  return { release, run: async () => released };
}

function catching(work: () => unknown): Error | undefined {
  try {
    work();
  } catch (error) {
    return error as Error;
  }
  return undefined;
}

const vm = (id: string) => ({ type: 'vm' as const, id, name: `name-${id}` });

t.test('a stage the kind does not list is a type error and throws at run time', async (t) => {
  const { jobs } = await openJobs(t);
  const runToEnd = (target: string, run: JobDefinition<typeof workJob, void>['run']) =>
    jobs.wait(jobs.start({ kind: workJob, targets: [vm(target)], run }).id, 5);

  const job = await runToEnd('a', async (context) => {
    context.stage('prepare');
    // @ts-expect-error: 'typo' is not a stage of test.work
    context.stage('typo');
  });
  t.equal(job.status, 'failed');
  t.match(job.error, { code: 'internal', detail: /test\.work has no stage "typo"/ });
  t.same(job.stages.map((stage) => stage.name), ['prepare', 'apply'], 'the plan did not grow');

  // @ts-expect-error: skip takes the kind's stages too
  const skipped = await runToEnd('b', async (context) => context.skip('nope', 'why'));
  t.match(skipped.error, { detail: /has no stage "nope"/ });

  const again = await runToEnd('c', async (context) => {
    context.stage('prepare');
    context.stage('prepare');
    context.stage('apply');
    context.stage('prepare');
  });
  t.match(again.error, { detail: /stage prepare was already passed/ }, 'a stage is passed once');
});

t.test('stages of a per-target kind are recorded per target', async (t) => {
  const { jobs } = await openJobs(t);
  const started = jobs.start({
    kind: perVmJob,
    targets: [vm('x'), vm('y')],
    run: async (context) => {
      context.forTarget('x').stage('delete', 'first');
      context.forTarget('y').skip('delete', 'already gone');
    },
  });
  t.same(started.stages.map((stage) => stage.name), ['delete name-x', 'delete name-y'], 'planned for every target');
  const job = await jobs.wait(started.id, 5);
  t.equal(job.status, 'succeeded');
  t.same(job.stages.map((stage) => [stage.name, stage.status]), [['delete name-x', 'succeeded'], ['delete name-y', 'skipped']]);

  const unnamed = jobs.start({ kind: perVmJob, targets: [vm('z')], run: async (context) => context.stage('delete') });
  t.match((await jobs.wait(unnamed.id, 5)).error, { detail: /use context\.forTarget/ });
  t.equal(describeStages(perVmJob), 'Stages, for each target in turn, recorded as `<stage> <target name>`: `delete`.');
  t.equal(describeStages(workJob), 'Stages: `prepare` → `apply`.');
});

t.test('one active job per resource, for every target of a job', async (t) => {
  const { jobs, records } = await openJobs(t);
  const first = held();
  const holder = jobs.start({ kind: workJob, targets: [vm('a'), vm('b')], run: first.run });
  t.same(holder.targets.map((target) => target.id), ['a', 'b']);
  t.same(holder.target, { type: 'vm', id: 'a', name: 'name-a', href: '/vms/a' }, 'target is the first resource');

  const refused = catching(() => jobs.start({ kind: workJob, targets: [vm('c'), vm('b')], run: async () => {} }));
  t.ok(refused instanceof BangerError && refused.code === 'resource-busy', 'resource-busy');
  t.equal(refused?.message, `vm name-b is busy with job ${holder.id} (test.work)`, 'names the resource and its job');
  t.equal((refused as BangerError | undefined)?.status, 409);
  t.notOk(records.activeFor('vm', 'c'), 'the refused job holds nothing');
  t.equal(records.activeFor('vm', 'b')?.id, holder.id);

  const disjoint = held();
  const other = jobs.start({ kind: workJob, targets: [vm('c')], run: disjoint.run });
  t.notOk(other.error, 'a job over other resources starts');
  t.throws(() => jobs.start({ kind: workJob, targets: [vm('d'), vm('d')], run: async () => {} }), /names a target twice/);

  first.release();
  disjoint.release();
  await jobs.wait(holder.id, 5);
  t.notOk(records.activeFor('vm', 'b'), 'a finished job lets go of its targets');
  const after = jobs.start({ kind: workJob, targets: [vm('c'), vm('b')], run: async () => {} });
  t.equal((await jobs.wait(after.id, 5)).status, 'succeeded', 'the same targets are free again');
});

t.test('recovery lets go of the targets of interrupted jobs', async (t) => {
  const { database, records, jobs, storage } = await openJobs(t);
  const stuck = held();
  const job = jobs.start({ kind: workJob, targets: [vm('r')], run: stuck.run });
  // A second service over the same file sees what a restarted daemon would: a job nobody runs.
  const restarted = new JobService({ database, jobs: records, logger, storage });
  const recovered = await restarted.recoverInterrupted();
  t.same(recovered.map((each) => [each.id, each.status, each.error?.code]), [[job.id, 'failed', 'interrupted']]);
  t.notOk(records.activeFor('vm', 'r'));
  const next = restarted.start({ kind: workJob, targets: [vm('r')], run: async () => {} });
  t.equal((await restarted.wait(next.id, 5)).status, 'succeeded');
  stuck.release();
});

t.test('a job over a selection, and GET /jobs by any target', async (t) => {
  const { database, jobs, storage } = await openJobs(t);
  const selection = jobs.start({
    kind: perVmJob,
    targets: [vm('p'), vm('q')],
    selection: { type: 'vm', name: 'label ci-run=4711', query: 'label=ci-run%3D4711' },
    cancellable: false,
    run: async () => {},
  });
  t.same(selection.target, { type: 'vm', name: 'label ci-run=4711', href: '/vms?label=ci-run%3D4711' }, 'no id of its own');
  t.same(selection.targets.map((target) => target.href), ['/vms/p', '/vms/q']);
  const empty = jobs.start({ kind: perVmJob, targets: [], selection: { type: 'vm', name: 'label none=1', query: 'label=none%3D1' }, run: async () => {} });
  t.same(empty.stages, [], 'nothing selected, nothing to do');
  t.throws(() => jobs.start({ kind: workJob, targets: [], run: async () => {} }), /needs a target or a selection/);

  const image = jobs.start({ kind: imageWorkJob, targets: [{ type: 'image', id: 'i1' }], run: async (context) => context.stage('one') });
  for (const job of [selection, empty, image]) await jobs.wait(job.id, 5);
  t.equal(jobs.get(image.id).status, 'succeeded', 'an image job runs its stages');

  const idle = {} as never;
  const app = await buildApp({
    services: { images: idle, vms: idle, snapshots: idle, execs: idle, files: idle, storage, jobs, idempotencyKeys: new IdempotencyRepository(database.db), metrics: new DaemonMetrics({ vmsByState: () => new Map() }) } satisfies Services,
    logger,
    bodyLimit: 65536,
  });
  t.teardown(() => app.close());
  const list = async (query: string) => {
    const response = await app.inject({ method: 'GET', url: `/jobs?${query}` });
    t.equal(response.statusCode, 200, query);
    return (response.json().items as Job[]).map((job) => job.id);
  };
  t.same(await list('targetId=q'), [selection.id], 'the second target of a job matches');
  t.same(await list('targetType=vm&targetId=p'), [selection.id]);
  t.same(await list('targetType=image&targetId=p'), [], 'type and id together');
  t.same(await list('targetType=image'), [image.id]);
  t.same(new Set(await list('targetType=vm')), new Set([selection.id, empty.id]), 'a type matches selections too');
  const shown = (await app.inject({ method: 'GET', url: `/jobs/${selection.id}` })).json();
  t.same(shown.targets.map((target: { name: string }) => target.name), ['name-p', 'name-q'], 'the resource shows its targets');
});
