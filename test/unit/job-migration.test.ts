// The job_targets migration over a database made by the migration before it: every stored job
// keeps its target, and a label delete's fake `?label=…` id becomes a selection.
import Sqlite from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { openDatabase } from '../../server/db/database.js';
import { JobRepository } from '../../server/db/repositories/jobs.js';
import { projectRoot } from '../../server/project-root.js';
import { jobView } from '../../server/services/jobs/job-view.js';

const before = '0001_vms';

/** The migrations folder as it was when `tag` was the newest. */
async function migrationsUpTo(dir: string, tag: string): Promise<string> {
  const source = join(projectRoot, 'migrations');
  const journal = JSON.parse(await readFile(join(source, 'meta', '_journal.json'), 'utf8')) as { entries: Array<{ tag: string }> };
  const entries = journal.entries.slice(0, journal.entries.findIndex((entry) => entry.tag === tag) + 1);
  const folder = join(dir, 'migrations');
  await mkdir(join(folder, 'meta'), { recursive: true });
  await writeFile(join(folder, 'meta', '_journal.json'), JSON.stringify({ ...journal, entries }));
  for (const entry of entries) await copyFile(join(source, `${entry.tag}.sql`), join(folder, `${entry.tag}.sql`));
  return folder;
}

t.test('existing jobs get their targets', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'banger-migration-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'banger.db');

  const old = new Sqlite(file);
  migrate(drizzle(old), { migrationsFolder: await migrationsUpTo(dir, before) });
  const insert = old.prepare(
    `insert into jobs (id, kind, status, target_type, target_id, target_name, stages, cancellable, processes, scratch_paths, created_at, result)
     values (?, ?, ?, ?, ?, ?, '[]', 1, '[]', '[]', ?, ?)`,
  );
  insert.run('j-promote', 'image.promote', 'succeeded', 'image', 'img1', 'base', '2026-01-01T00:00:00.000Z', null);
  insert.run('j-stop', 'vm.stop', 'running', 'vm', 'vm1', 'web', '2026-01-02T00:00:00.000Z', null);
  insert.run(
    'j-bulk',
    'vm.delete',
    'succeeded',
    'vm',
    '?label=ci-run%3D4711',
    'label ci-run=4711',
    '2026-01-03T00:00:00.000Z',
    JSON.stringify({ deleted: [{ id: 'vm2', name: 'a' }, { id: 'vm3', name: 'b' }], selector: 'ci-run=4711', reason: 'delete_requested' }),
  );
  old.close();

  const database = openDatabase(file);
  t.teardown(() => database.close());
  const jobs = new JobRepository(database.db);
  const view = (id: string) => {
    const record = jobs.get(id);
    if (!record) throw new Error(`job ${id} is gone`);
    return jobView(record);
  };

  t.same(view('j-promote').target, { type: 'image', id: 'img1', name: 'base', href: '/images/img1' });
  t.same(view('j-promote').targets, [{ type: 'image', id: 'img1', name: 'base', href: '/images/img1' }]);
  t.equal(jobs.activeFor('vm', 'vm1')?.id, 'j-stop', 'a running job still holds its resource');
  t.notOk(jobs.activeFor('image', 'img1'), 'a finished one does not');

  const bulk = view('j-bulk');
  t.same(bulk.target, { type: 'vm', name: 'label ci-run=4711', href: '/vms?label=ci-run%3D4711' }, 'the selection, without a fake id');
  t.same(bulk.targets.map((target) => [target.id, target.name]), [['vm2', 'a'], ['vm3', 'b']], 'what it deleted, from its result');
  t.same(jobs.list({ targetId: 'vm3' }, 10).map((job) => job.id), ['j-bulk']);

  const columns = database.sqlite.prepare('select name from pragma_table_info(?)').all('jobs') as Array<{ name: string }>;
  t.notOk(columns.some((column) => column.name.startsWith('target_')), 'the old target columns are gone');
});
