// The image catalogue over the real daemon's unix socket: register, list, get, update, delete,
// promote; bad input answered with a complete problem and nothing left behind (the full set of
// refusals runs in-process in test/api/).
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { assertProblem, imagesDirEntries, stagingDirs } from '../helpers/api.js';
import { makeTempDir, startDaemon, waitForJob } from '../helpers/daemon.js';
import { makeExt4Image, makeInitrdFile, makeKernelFile, makeModulesDir } from '../helpers/ext4.js';

const daemon = await startDaemon(t);
const files = await makeTempDir(t, 'banger-images-');

// Fixtures: each rootfs in its own dir, so only the ones meant to have a work seed beside them do.
const plainDir = join(files, 'plain');
mkdirSync(plainDir);
const rootfs = makeExt4Image(join(plainDir, 'rootfs.ext4'), '32M');
const kernel = makeKernelFile(files);
const otherKernel = makeKernelFile(files, 'vmlinuz-other');
const initrd = makeInitrdFile(join(files, 'initrd.img'));
const modulesDir = makeModulesDir(join(files, 'modules', '6.1.0'));
const packages = join(files, 'packages.txt');
writeFileSync(packages, 'curl\ngit\n');

async function listAll(): Promise<any[]> {
  const res = await daemon.http('GET', '/images?limit=500');
  if (res.status !== 200) throw new Error(`GET /images: ${res.status} ${res.text}`);
  return res.body.items;
}

async function register(body: Record<string, unknown>, expectedStatus = 201): Promise<any> {
  const res = await daemon.http('POST', '/images', body);
  if (res.status !== expectedStatus) throw new Error(`POST /images ${JSON.stringify(body)}: ${res.status} ${res.text}`);
  return res.body;
}

t.test('register, get, list, update and delete an unmanaged image', async (t) => {
  const created = await daemon.http('POST', '/images', {
    name: 'alpha',
    rootfsPath: rootfs,
    kernelPath: kernel,
    initrdPath: initrd,
    modulesDir,
    packagesPath: packages,
  });
  t.equal(created.status, 201);
  t.match(String(created.headers['content-type']), /^application\/json/);
  const image = created.body;
  t.match(image.id, /^[0-9a-f]{16}$/, 'a short hex id');
  t.equal(created.headers.location, `/images/${image.id}`, 'Location names the new image');
  t.equal(image.href, `/images/${image.id}`);
  t.same(
    {
      name: image.name,
      managed: image.managed,
      artifactDir: image.artifactDir,
      rootfsPath: image.rootfsPath,
      workSeedPath: image.workSeedPath,
      kernelPath: image.kernelPath,
      initrdPath: image.initrdPath,
      modulesDir: image.modulesDir,
      packagesPath: image.packagesPath,
      buildSize: image.buildSize,
      seededSshPublicKeyFingerprint: image.seededSshPublicKeyFingerprint,
      docker: image.docker,
    },
    {
      name: 'alpha',
      managed: false,
      artifactDir: null,
      rootfsPath: rootfs,
      workSeedPath: null,
      kernelPath: kernel,
      initrdPath: initrd,
      modulesDir,
      packagesPath: packages,
      buildSize: null,
      seededSshPublicKeyFingerprint: null,
      docker: false,
    },
  );
  t.match(image.packagesSha256, /^[0-9a-f]{64}$/);
  t.ok(!Number.isNaN(Date.parse(image.createdAt)) && image.createdAt === image.updatedAt, 'timestamps set');

  const byId = await daemon.http('GET', `/images/${image.id}`);
  t.equal(byId.status, 200);
  t.same(byId.body, image, 'GET by id returns the same image');
  const byName = await daemon.http('GET', '/images/alpha');
  t.same(byName.body, image, 'GET by name returns the same image');
  t.ok((await listAll()).some((listed) => listed.id === image.id), 'listed');

  await new Promise((resolve) => setTimeout(resolve, 5));
  const updated = await daemon.http('POST', '/images', { name: 'alpha', rootfsPath: rootfs, kernelPath: otherKernel, docker: true });
  t.equal(updated.status, 200, 're-registering an unmanaged name updates it');
  t.equal(updated.headers.location, undefined, 'no Location on an update');
  t.equal(updated.body.id, image.id, 'same id');
  t.equal(updated.body.createdAt, image.createdAt, 'createdAt kept');
  t.ok(updated.body.updatedAt > image.updatedAt, 'updatedAt moves');
  t.equal(updated.body.kernelPath, otherKernel);
  t.equal(updated.body.docker, true);
  t.equal(updated.body.initrdPath, null, 'fields left out of the update are cleared');
  t.equal(updated.body.packagesPath, null);
  t.same((await daemon.http('GET', '/images/alpha')).body, updated.body, 'the update is stored');

  const deleted = await daemon.http('DELETE', '/images/alpha');
  t.equal(deleted.status, 200);
  t.equal(deleted.body.id, image.id, 'DELETE answers with the deleted image');
  assertProblem(t, await daemon.http('GET', `/images/${image.id}`), { status: 404, code: 'image-not-found', detail: image.id });
  t.notOk((await listAll()).some((listed) => listed.id === image.id), 'no longer listed');
  t.ok(existsSync(rootfs) && existsSync(otherKernel) && existsSync(packages), "deleting an unmanaged image leaves the user's files");
  t.same(imagesDirEntries(daemon.stateDir), [], 'nothing in the artifact dir');
});

t.test('a work seed beside the rootfs is picked up', async (t) => {
  const dir = join(files, 'seeded');
  mkdirSync(dir);
  const seededRootfs = makeExt4Image(join(dir, 'rootfs.ext4'), '32M');
  const workSeed = makeExt4Image(join(dir, 'work-seed.ext4'), '16M');
  const image = await register({ name: 'seeded', rootfsPath: seededRootfs, kernelPath: kernel });
  t.equal(image.workSeedPath, workSeed, 'work-seed.ext4 beside the rootfs');

  const stemDir = join(files, 'stem');
  mkdirSync(stemDir);
  const debian = makeExt4Image(join(stemDir, 'debian.ext4'), '32M');
  const stemSeed = makeExt4Image(join(stemDir, 'debian.work-seed.ext4'), '16M');
  t.equal((await register({ name: 'debian', rootfsPath: debian, kernelPath: kernel })).workSeedPath, stemSeed, '<stem>.work-seed.ext4 beside the rootfs');

  const explicit = makeExt4Image(join(files, 'explicit-seed.ext4'), '16M');
  const named = await register({ name: 'seeded', rootfsPath: seededRootfs, kernelPath: kernel, workSeedPath: explicit }, 200);
  t.equal(named.workSeedPath, explicit, 'an explicit workSeedPath wins over the one beside the rootfs');

  t.equal((await register({ name: 'no-seed', rootfsPath: rootfs, kernelPath: kernel })).workSeedPath, null, 'no work seed beside: null');

  for (const name of ['seeded', 'debian', 'no-seed']) t.equal((await daemon.http('DELETE', `/images/${name}`)).status, 200);
});

// Every refusal is checked in-process in test/api/; these few keep each problem family covered
// over the real socket, where Node's HTTP parser and the listener come into play.
t.test('bad requests are refused with a problem over the socket and leave nothing behind', async (t) => {
  const before = await listAll();
  const dirBefore = imagesDirEntries(daemon.stateDir);
  const base = { rootfsPath: rootfs, kernelPath: kernel };

  await t.test('422 preflight-failed: bad rootfs and bad kernel, reported together', async (t) => {
    const res = await daemon.http('POST', '/images', { name: 'bad', rootfsPath: join(files, 'missing.ext4'), kernelPath: 'relative/vmlinuz' });
    assertProblem(t, res, { status: 422, code: 'preflight-failed', fields: ['rootfsPath', 'kernelPath'] });
    t.equal(res.body.errors.length, 2, 'two errors in one response');
    t.match(res.body.detail, /2 paths are unusable \(rootfsPath, kernelPath\)/, 'the detail names both');
    t.match(res.body.hint, /fix every listed field/);
  });
  await t.test('422 validation-failed: a name with a slash', async (t) => {
    const res = await daemon.http('POST', '/images', { ...base, name: 'a/b' });
    assertProblem(t, res, { status: 422, code: 'validation-failed', fields: ['body.name'], detail: /^body\.name: / });
    t.match(res.body.errors[0].hint, /letters, digits/);
  });
  await t.test('415 unsupported-media-type: a text/plain body', async (t) => {
    const res = await daemon.http('POST', '/images', 'name=x', { 'content-type': 'text/plain' });
    assertProblem(t, res, { status: 415, code: 'unsupported-media-type' });
  });
  await t.test('413 body-too-large: a body over 64 KiB', async (t) => {
    const body = JSON.stringify({ ...base, name: 'huge', padding: 'x'.repeat(70 * 1024) });
    t.ok(Buffer.byteLength(body) > 64 * 1024);
    const res = await daemon.http('POST', '/images', body);
    assertProblem(t, res, { status: 413, code: 'body-too-large' });
  });
  await t.test('404: an unknown image and an unknown route', async (t) => {
    assertProblem(t, await daemon.http('GET', '/images/no-such-image'), { status: 404, code: 'image-not-found', detail: /no-such-image/ });
    assertProblem(t, await daemon.http('GET', '/no/such/route'), { status: 404, code: 'not-found', detail: 'GET /no/such/route' });
  });
  // Fastify's router answers this itself; it must still be a problem.
  await t.test('a malformed %-escape', async (t) => {
    const badEscape = await daemon.http('GET', '/images/%E0%A4%A');
    t.match(String(badEscape.headers['content-type']), /^application\/problem\+json/, 'a malformed %-escape is answered with a problem');
    t.ok(badEscape.status >= 400 && badEscape.status < 500, `4xx (${badEscape.status})`);
    t.match(badEscape.body, { code: String, detail: String, hint: String }, 'with code, detail and hint');
  });

  t.same(await listAll(), before, 'GET /images is unchanged');
  t.same(imagesDirEntries(daemon.stateDir), dirBefore, `no new files in ${join(daemon.stateDir, 'images')}`);
});

t.test('pagination walks every image with nextCursor', async (t) => {
  const names = ['page-c', 'page-a', 'page-e', 'page-b', 'page-d'];
  for (const name of names) await register({ name, rootfsPath: rootfs, kernelPath: kernel });
  const all = (await listAll()).map((image) => image.name);
  t.same(all, [...all].sort(), 'ordered by name');
  t.ok(names.every((name) => all.includes(name)));

  const walked: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages <= all.length; pages++) {
    const path: string = `/images?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await daemon.http('GET', path);
    t.equal(res.status, 200);
    t.equal(res.body.items.length, 1, `page ${pages + 1} holds one image`);
    walked.push(...res.body.items.map((image: any) => image.name));
    cursor = res.body.nextCursor;
    if (cursor === null) break;
  }
  t.same(walked, all, 'limit=1 pages visit every image once, in order');
  t.equal(cursor, null, 'the last page has nextCursor null');

  const two = await daemon.http('GET', '/images?limit=2');
  const rest = await daemon.http('GET', `/images?limit=500&cursor=${two.body.nextCursor}`);
  t.same([...two.body.items, ...rest.body.items].map((image: any) => image.name), all);
  t.equal(rest.body.nextCursor, null);

  for (const name of names) t.equal((await daemon.http('DELETE', `/images/${name}`)).status, 200);
});

t.test('managed images: promote, refusals, delete removes the artifacts', async (t) => {
  const dir = join(files, 'to-manage');
  mkdirSync(dir);
  const userRootfs = makeExt4Image(join(dir, 'rootfs.ext4'), '32M');
  const userSeed = makeExt4Image(join(dir, 'work-seed.ext4'), '16M');
  const image = await register({ name: 'managed', rootfsPath: userRootfs, kernelPath: kernel });

  const started = await daemon.http('POST', '/images/managed/promote');
  t.equal(started.status, 202);
  const job = await waitForJob(daemon, started.body.id);
  t.equal(job.status, 'succeeded', JSON.stringify(job.error));

  const managed = (await daemon.http('GET', '/images/managed')).body;
  const artifactDir = join(daemon.stateDir, 'images', image.id);
  t.equal(managed.managed, true);
  t.equal(managed.artifactDir, artifactDir);
  t.equal(managed.rootfsPath, join(artifactDir, 'rootfs.ext4'));
  t.equal(managed.workSeedPath, join(artifactDir, 'work-seed.ext4'));
  t.ok(statSync(managed.rootfsPath).isFile() && statSync(managed.workSeedPath).isFile(), 'artifacts exist');

  const reRegister = await daemon.http('POST', '/images', { name: 'managed', rootfsPath: userRootfs, kernelPath: kernel });
  assertProblem(t, reRegister, { status: 409, code: 'image-managed', detail: /managed/ });
  t.match(reRegister.body.hint, /DELETE \/images\/managed/);
  const rePromote = await daemon.http('POST', `/images/${image.id}/promote`);
  assertProblem(t, rePromote, { status: 409, code: 'image-already-managed', detail: artifactDir });
  t.same((await daemon.http('GET', '/images/managed')).body, managed, 'the refusals changed nothing');

  const deleted = await daemon.http('DELETE', '/images/managed');
  t.equal(deleted.status, 200);
  t.equal(deleted.body.managed, true);
  t.notOk(existsSync(artifactDir), 'the artifact dir is removed with a managed image');
  t.same(imagesDirEntries(daemon.stateDir), [], 'nothing left under images/');
  t.same(stagingDirs(daemon.stateDir), []);
  t.ok(existsSync(userRootfs) && existsSync(userSeed), "the user's original files are untouched");
});
