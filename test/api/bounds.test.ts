// The bounds the contract states that the server keeps by refusing or cutting: label maps, the
// field errors of one problem, and the VMs one delete by label selects.
import { join } from 'node:path';
import t from 'tap';
import { maxFieldErrors, maxMessageLength } from '../../server/domain/limits.js';
import { maxJobTargets } from '../../server/domain/job.js';
import { checkProblemCases, insertVmRow, startApp } from '../helpers/app.js';
import { makeTempDir } from '../helpers/daemon.js';
import { makeExt4Image, makeKernelFile } from '../helpers/ext4.js';

const app = await startApp(t, { env: { BANGER_MAX_VM_RECORDS: '1' } });
const files = await makeTempDir(t, 'banger-bounds-');
const rootfsPath = makeExt4Image(join(files, 'rootfs.ext4'), '16M');
const image = await app.inject('POST', '/images', { name: 'bb', rootfsPath, kernelPath: makeKernelFile(files) });
if (image.status !== 201) throw new Error(`POST /images: ${image.status} ${image.text}`);

const labels = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, 'v']));

t.test('labels are refused as the schema states them: at most 32, keys by the key pattern', async (t) => {
  await checkProblemCases(t, app, [
    { name: '33 labels', method: 'POST', path: '/vms', body: { image: 'bb', labels: labels(33) }, status: 422, code: 'validation-failed', fields: ['body.labels'] },
    {
      name: 'a key with a space',
      method: 'POST',
      path: '/vms',
      body: { image: 'bb', labels: { 'no spaces': 'x', ok: 'y' } },
      status: 422,
      code: 'validation-failed',
      fields: ['body.labels.no spaces'],
      check: (t, res) => {
        const [error] = res.body.errors as Array<{ message: string; hint?: string }>;
        t.match(error?.message, /"no spaces" is not an allowed key/);
        t.match(error?.hint, /label keys are 1-63/);
      },
    },
    {
      name: 'a key of 64 characters',
      method: 'POST',
      path: '/vms',
      body: { image: 'bb', labels: { [`k${'x'.repeat(63)}`]: 'v' } },
      status: 422,
      code: 'validation-failed',
      fields: [`body.labels.k${'x'.repeat(63)}`],
    },
  ]);
});

t.test('a problem lists the first field errors and cuts its detail', async (t) => {
  const body: Record<string, unknown> = { image: 'bb' };
  for (let i = 0; i < 3 * maxFieldErrors; i++) body[`unknown${i}${'x'.repeat(200)}`] = 1;
  const res = await app.inject('POST', '/vms', body);
  t.equal(res.status, 422);
  t.equal(res.body.errors.length, maxFieldErrors, 'the first ones');
  t.ok(res.body.detail.length <= maxMessageLength, 'the detail within its bound');
  t.match(res.body.detail, /characters cut/, 'cut in the middle');
});

t.test('a delete by label selects at most maxJobTargets VMs', async (t) => {
  const insert = app.daemon.database.sqlite.prepare('UPDATE vms SET labels = ? WHERE id = ?');
  app.daemon.database.sqlite.transaction(() => {
    for (let i = 0; i <= maxJobTargets; i++) {
      const id = `bulk${String(i).padStart(12, '0')}`;
      insertVmRow(app, { id, name: `bulk-${i}`, imageId: image.body.id, state: 'stopped' });
      insert.run(JSON.stringify({ bulk: 'yes' }), id);
    }
  })();
  await checkProblemCases(t, app, [
    {
      name: `${maxJobTargets + 1} VMs`,
      method: 'DELETE',
      path: '/vms?label=bulk=yes',
      status: 422,
      code: 'validation-failed',
      fields: ['querystring.label'],
      detail: new RegExp(`selects ${maxJobTargets + 1} VMs; one request deletes at most ${maxJobTargets}`),
    },
  ]);
  const listed = await app.inject('GET', '/vms?label=bulk=yes&limit=1');
  t.equal(listed.status, 200);
  t.equal(listed.body.items[0]?.state, 'stopped', 'nothing was marked for deletion');
});
