// Housekeeping over a real SQLite file: finished jobs past their retention go with their targets,
// events and own build logs; active jobs, other logs and unanswered Idempotency-Keys stay.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import t from 'tap';
import { openDatabase } from '../../server/db/database.js';
import { IdempotencyRepository } from '../../server/db/repositories/idempotency.js';
import { JobRepository } from '../../server/db/repositories/jobs.js';
import { Housekeeping } from '../../server/services/housekeeping.js';
import { defineJobKind } from '../../server/services/jobs/job-kind.js';
import { JobService } from '../../server/services/jobs/job-service.js';
import { StorageGuard } from '../../server/services/storage/storage-guard.js';

const work = defineJobKind('test.work', ['one'] as const);
const logger = pino({ level: 'silent' });

t.test('finished jobs past their retention go; active ones, foreign logs and unanswered keys stay', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'banger-retention-'));
  const buildLogs = join(dir, 'image-build');
  await mkdir(buildLogs);
  const database = openDatabase(join(dir, 'banger.db'));
  const records = new JobRepository(database.db);
  const storage = new StorageGuard({ dir, reservePath: join(dir, 'space-reserve'), settings: { minFreeBytes: 0, reserveBytes: 0 }, logger });
  const jobs = new JobService({ database, jobs: records, logger, storage, ownedLogDir: buildLogs });
  const keys = new IdempotencyRepository(database.db);
  t.teardown(async () => {
    await jobs.shutdown(1000);
    database.close();
    await rm(dir, { recursive: true, force: true });
  });

  const ownLog = join(buildLogs, 'a1b2c3d4e5f60718.log');
  const foreignLog = join(dir, 'console.log');
  await writeFile(ownLog, 'build output');
  await writeFile(foreignLog, 'a VM console');
  const target = (id: string) => [{ type: 'vm' as const, id, name: id }];
  const built = jobs.start({ kind: work, targets: target('built'), logPath: ownLog, run: async () => undefined });
  const booted = jobs.start({ kind: work, targets: target('booted'), logPath: foreignLog, run: async () => { throw new Error('failed on purpose'); } });
  let release = () => {};
  const running = jobs.start({ kind: work, targets: target('running'), run: () => new Promise<void>((resolve) => (release = resolve)) });
  t.equal((await jobs.wait(built.id, 5)).status, 'succeeded');
  t.equal((await jobs.wait(booted.id, 5)).status, 'failed');
  keys.claim({ key: 'answered', method: 'POST', path: '/vms', requestHash: 'x', createdAt: '2020-01-01T00:00:00.000Z' });
  keys.complete('answered', 202, {}, '{}');
  keys.claim({ key: 'in-flight', method: 'POST', path: '/vms', requestHash: 'y', createdAt: '2020-01-01T00:00:00.000Z' });

  const housekeeping = (jobRetentionSeconds: number) => new Housekeeping({ jobs, idempotencyKeys: keys, settings: { jobRetentionSeconds, idempotencyKeySeconds: 86400 }, logger });
  await housekeeping(0).tick();
  t.same(jobs.list({}, 10).length, 3, 'retention 0 keeps every job');
  t.ok(keys.get('in-flight') && !keys.get('answered'), 'an answered key past its day goes; one still in flight stays');
  await housekeeping(3600).tick();
  t.same(jobs.list({}, 10).length, 3, 'jobs younger than the retention stay');

  const removed = await jobs.removeFinishedBefore(new Date(Date.now() + 1000).toISOString());
  t.equal(removed, 2, 'both finished jobs went');
  t.same(jobs.list({}, 10).map((job) => job.id), [running.id], 'the running one stays');
  const count = (table: string) => (database.sqlite.prepare(`select count(*) as n from ${table} where job_id != ?`).get(running.id) as { n: number }).n;
  t.same([count('job_events'), count('job_targets')], [0, 0], 'their events and targets went with them');
  t.notOk(existsSync(ownLog), 'a build log in the dir of owned logs went with its job');
  t.ok(existsSync(foreignLog), 'a log elsewhere (a VM’s console) stays');
  t.throws(() => jobs.get(built.id), { code: 'job-not-found' });
  release();
  t.equal((await jobs.wait(running.id, 5)).status, 'succeeded');
});

t.test('housekeeping runs often enough for the shortest lifetime, never more than every 10 s or less than hourly', async (t) => {
  const every = (jobRetentionSeconds: number, idempotencyKeySeconds = 86400) =>
    new Housekeeping({ jobs: {} as JobService, idempotencyKeys: {} as IdempotencyRepository, settings: { jobRetentionSeconds, idempotencyKeySeconds }, logger }).intervalMs;
  t.equal(every(604800), 3600_000);
  t.equal(every(600), 150_000, 'a quarter of a short retention');
  t.equal(every(1), 10_000);
  t.equal(every(0, 7200), 1_800_000, 'retention off: the keys still expire');
});
