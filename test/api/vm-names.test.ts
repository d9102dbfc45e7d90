// Names and ids never overlap (issue #11, item 1), and a failed create's name can be taken again
// (item 5): in-process, with rows inserted directly; no guest boots.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import t from 'tap';
import { looksLikeId } from '../../server/domain/ids.js';
import { ImageRepository } from '../../server/db/repositories/images.js';
import { newId } from '../../server/services/ids.js';
import type { VmRecords } from '../../server/services/vms/vm-records.js';
import { checkProblemCases, startApp, type ProblemCase } from '../helpers/app.js';
import { makeTempDir } from '../helpers/daemon.js';
import { makeExt4Image, makeInitrdFile, makeKernelFile } from '../helpers/ext4.js';

// Two VM records at most, and one VM that counts as running: a create that passed every check
// (and replaced nothing) is refused by the limits, so no case here starts a boot.
const app = await startApp(t, { env: { BANGER_MAX_VMS: '1', BANGER_MAX_VM_RECORDS: '3', BANGER_VM_FAILED_TTL_SECONDS: '3600' } });
const files = await makeTempDir(t, 'banger-names-');
const sqlite = app.daemon.database.sqlite;
const records = (app.daemon.services.vms as unknown as { records: VmRecords }).records;

function pathOf(name: string): string {
  const path = join(files, name);
  mkdirSync(dirname(path), { recursive: true });
  return path;
}

const kernel = makeKernelFile(files);
const registered = await app.inject('POST', '/images', {
  name: 'bb',
  rootfsPath: makeExt4Image(pathOf('rootfs.ext4'), '16M'),
  kernelPath: kernel,
  initrdPath: makeInitrdFile(pathOf('initrd.img')),
  workSeedPath: makeExt4Image(pathOf('work-seed.ext4'), '16M'),
});
if (registered.status !== 201) throw new Error(`POST /images: ${registered.status} ${registered.text}`);
const imageId: string = registered.body.id;

function insertVm(row: { id: string; name: string; state: string; stateChangedAt?: string; consoleLog?: string }): void {
  const stamp = new Date().toISOString();
  sqlite
    .prepare('INSERT INTO vms (id, name, image_id, state, state_changed_at, console_log, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
    .run(row.id, row.name, imageId, row.state, row.stateChangedAt ?? stamp, row.consoleLog ?? null, stamp, stamp);
}
const vmIds = () => (sqlite.prepare('SELECT id FROM vms ORDER BY id').all() as Array<{ id: string }>).map((row) => row.id);
const deleteVm = (id: string) => sqlite.prepare('DELETE FROM vms WHERE id = ?').run(id);

// Runs (counts against BANGER_MAX_VMS = 1) and is in a state a snapshot needs.
const runner = newId();
insertVm({ id: runner, name: 'runner', state: 'running' });

const idShaped = 'b7db2971205863c5';
const refused = (name: string, method: string, path: string, body: Record<string, unknown>): ProblemCase => ({
  name,
  method,
  path,
  body,
  status: 422,
  code: 'validation-failed',
  fields: ['body.name'],
  check: (t, res) => t.match(res.body.errors?.[0]?.hint, /16 hex digits would look like an id/),
});

t.test('the id shape', async (t) => {
  for (let i = 0; i < 20; i++) t.ok(looksLikeId(newId()), 'every new id has it');
  for (const name of ['vm-b7db2971', 'b7db2971205863c5x', 'B7DB2971205863C5', 'b7db2971205863g5', 'b7db297120586']) t.notOk(looksLikeId(name), name);
});

t.test('a name of the id shape is refused wherever a name is chosen', async (t) => {
  await checkProblemCases(t, app, [
    refused('VM create', 'POST', '/vms', { name: idShaped, image: 'bb' }),
    refused('VM create with start: false', 'POST', '/vms', { name: idShaped, image: 'bb', start: false }),
    refused('VM restore', 'POST', '/vms', { name: idShaped, snapshot: 'none' }),
    refused('image register', 'POST', '/images', { name: idShaped, rootfsPath: pathOf('rootfs.ext4'), kernelPath: kernel }),
    refused('image build', 'POST', '/images/builds', { name: idShaped, recipe: 'busybox' }),
    refused('snapshot', 'POST', '/vms/runner/snapshots', { name: idShaped }),
  ]);
  t.same(vmIds(), [runner], 'no VM row was made');
});

t.test('an id means its resource even when another row is named by it', async (t) => {
  // Rows from before names were checked: the second VM is named by the first's id.
  const first = newId();
  const second = newId();
  // Named to sort after any id: ordered by name, the row named by the id would come first.
  insertVm({ id: first, name: 'zz-first', state: 'stopped' });
  insertVm({ id: second, name: first, state: 'stopped' });
  t.teardown(() => {
    deleteVm(first);
    deleteVm(second);
  });
  const byId = await app.inject('GET', `/vms/${first}`);
  t.equal(byId.status, 200, byId.text);
  t.equal(byId.body.id, first, 'the id wins over the name');
  t.equal(byId.body.href, `/vms/${first}`, 'and the href is by id');
  const secondById = await app.inject('GET', `/vms/${second}`);
  t.equal(secondById.body.id, second);
  const vms = app.daemon.services.vms;
  t.equal(vms.get(first).id, first);

  const images = new ImageRepository(app.daemon.database.db);
  const image = images.findByIdOrName(imageId);
  if (!image) throw new Error('no image');
  const shadow = newId();
  images.upsert({ ...image, name: 'zz-bb' });
  images.upsert({ ...image, id: shadow, name: imageId });
  t.teardown(() => {
    images.delete(shadow);
    images.upsert(image);
  });
  t.equal(images.findByIdOrName(imageId)?.id, imageId, 'an image id wins over an image named by it');
  t.equal(images.findByIdOrName(shadow)?.id, shadow);
  const got = await app.inject('GET', `/images/${imageId}`);
  t.equal(got.body.id, imageId, got.text);
});

t.test('a failed create gives its name up to the next create', async (t) => {
  const failed = newId();
  const kept = join(app.stateDir, 'vms', `${failed}.console.log`);
  mkdirSync(dirname(kept), { recursive: true });
  writeFileSync(kept, 'boot log\n');
  insertVm({ id: failed, name: 'retry', state: 'failed', consoleLog: kept });

  // Any other holder still keeps its name.
  const stopped = newId();
  insertVm({ id: stopped, name: 'kept', state: 'stopped' });
  t.teardown(() => deleteVm(stopped));
  await checkProblemCases(t, app, [
    { name: 'a stopped holder', method: 'POST', path: '/vms', body: { name: 'kept', image: 'bb' }, status: 409, code: 'vm-name-taken' },
    // The limits are checked before anything is replaced: a refused create leaves the failed VM.
    { name: 'over BANGER_MAX_VMS', method: 'POST', path: '/vms', body: { name: 'retry', image: 'bb' }, status: 409, code: 'vm-limit-reached' },
  ]);
  t.ok(vmIds().includes(failed), 'the failed VM is still there');
  t.ok(existsSync(kept), 'with its console log');

  // BANGER_MAX_VM_RECORDS is 3 and 3 rows exist: the failed one is replaced, so one more fits.
  t.equal(records.admitNewVm('retry', { start: false }), 'retry');
  t.notOk(vmIds().includes(failed), 'the failed row is gone');
  t.notOk(existsSync(kept), 'and its kept console log');
  t.throws(() => records.admitNewVm('kept', { start: false }), { code: 'vm-name-taken' });
});

t.test('failed VMs expire after BANGER_VM_FAILED_TTL_SECONDS', async (t) => {
  const old = newId();
  const fresh = newId();
  const kept = join(app.stateDir, 'vms', `${old}.console.log`);
  writeFileSync(kept, 'boot log\n');
  insertVm({ id: old, name: 'old-failure', state: 'failed', stateChangedAt: new Date(Date.now() - 3601_000).toISOString(), consoleLog: kept });
  insertVm({ id: fresh, name: 'new-failure', state: 'failed' });
  t.teardown(() => deleteVm(fresh));
  await app.daemon.services.vms.reconciler.monitorOnce();
  const ids = vmIds();
  t.notOk(ids.includes(old), 'a failure older than the TTL is deleted');
  t.notOk(existsSync(kept), 'with its console log');
  t.ok(ids.includes(fresh), 'a recent one is kept');
  t.ok(ids.includes(runner), 'other VMs are left alone');
});
