// The image catalogue's refusals, in-process: registration preflight and schema checks, build
// requests, lookups, pages and conflicts that need only rows.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { assertProblem } from '../helpers/api.js';
import { checkProblemCases, fieldMessages, insertVmRow, invalidField, registrationRefused, startApp, type ProblemCase } from '../helpers/app.js';
import { makeTempDir } from '../helpers/daemon.js';
import { makeExt4Image, makeKernelFile } from '../helpers/ext4.js';

// No default kernel: the case that needs one to be missing runs whatever the environment says.
const app = await startApp(t, { env: { BANGER_DEFAULT_KERNEL: undefined } });
const files = await makeTempDir(t, 'banger-images-');

// The rootfs has a dir of its own so that no work seed is found beside it. What registration
// refuses for what a file is or where it lies is in registration-paths.test.ts.
const plainDir = join(files, 'plain');
mkdirSync(plainDir);
const rootfs = makeExt4Image(join(plainDir, 'rootfs.ext4'), '16M');
const kernel = makeKernelFile(files);
const sub = join(files, 'sub');
mkdirSync(sub);
const missing = join(files, 'missing.ext4');
const danglingTarget = join(files, 'gone', 'rootfs.ext4');
const dangling = join(files, 'dangling.ext4');
symlinkSync(danglingTarget, dangling);
const goodLink = join(files, 'good-link.ext4');
symlinkSync(rootfs, goodLink);
const notExt4 = join(files, 'random.img');
writeFileSync(notExt4, Buffer.alloc(2 * 1024 * 1024, 7));
const base = { rootfsPath: rootfs, kernelPath: kernel };

async function register(body: Record<string, unknown>): Promise<any> {
  const res = await app.inject('POST', '/images', body);
  if (res.status !== 201) throw new Error(`POST /images ${JSON.stringify(body)}: ${res.status} ${res.text}`);
  return res.body;
}

const preflight = (name: string, body: Record<string, unknown>, fields: string[], ...messages: RegExp[]): ProblemCase =>
  registrationRefused(name, body, fields, fieldMessages(...messages));
const invalid = (name: string, body: unknown, fields: string[], detail?: RegExp): ProblemCase => ({
  name,
  method: 'POST',
  path: '/images',
  body,
  status: 422,
  code: 'validation-failed',
  fields,
  ...(detail ? { detail } : {}),
});
const badQuery = (query: string, field: string) => invalidField('GET', `/images?${query}`, `querystring.${field}`);
const badBuild = (name: string, body: Record<string, unknown>, fields: string[], code = 'validation-failed'): ProblemCase => ({
  name: `build: ${name}`,
  method: 'POST',
  path: '/images/builds',
  body,
  status: 422,
  code,
  fields,
});

t.test('bad registrations, builds and lookups are refused with a problem and leave nothing behind', async (t) => {
  // Held by the build case of a taken name; registered before the state the cases must keep.
  await register({ name: 'bb', ...base });
  const longName = 'x'.repeat(101);
  const wrongShapeCursor = Buffer.from('{"createdAt":"x","id":"y"}').toString('base64url');

  await checkProblemCases(t, app, [
    preflight('relative rootfsPath', { ...base, rootfsPath: 'images/rootfs.ext4' }, ['rootfsPath'], /must be absolute, got "images\/rootfs.ext4"/),
    preflight('relative kernelPath', { ...base, kernelPath: 'vmlinuz' }, ['kernelPath'], /must be absolute/),
    preflight('missing rootfs', { ...base, rootfsPath: missing }, ['rootfsPath'], new RegExp(`${missing} does not exist`)),
    preflight('a directory where the rootfs file belongs', { ...base, rootfsPath: plainDir }, ['rootfsPath'], /is a directory, expected a regular file/),
    preflight('a symlink to a missing file', { ...base, rootfsPath: dangling }, ['rootfsPath'], new RegExp(`is a symlink to ${danglingTarget}, which does not exist`)),
    preflight('".." segments', { ...base, rootfsPath: `${sub}/../plain/rootfs.ext4` }, ['rootfsPath'], /must not contain "\.\." segments/),
    preflight('a file where the modules dir belongs', { ...base, modulesDir: kernel }, ['modulesDir'], /is not a directory/),
    preflight('missing work seed, initrd and packages', { ...base, workSeedPath: missing, initrdPath: join(files, 'nope.img'), packagesPath: sub }, ['workSeedPath', 'initrdPath', 'packagesPath'], /does not exist/, /does not exist/, /is a directory/),
    preflight('no kernel and no default kernel', { rootfsPath: rootfs }, ['kernelPath'], /no default kernel is configured/),
    {
      name: 'bad rootfs and bad kernel are reported together',
      method: 'POST',
      path: '/images',
      body: { name: 'bad', rootfsPath: missing, kernelPath: 'relative/vmlinuz' },
      status: 422,
      code: 'preflight-failed',
      fields: ['rootfsPath', 'kernelPath'],
      detail: /2 paths are unusable \(rootfsPath, kernelPath\)/,
      check: (t, res) => {
        t.equal(res.body.errors.length, 2, 'two errors in one response');
        t.match(res.body.hint, /fix every listed field/);
      },
    },

    {
      ...invalid('a name with a slash', { ...base, name: 'a/b' }, ['body.name'], /^body\.name: /),
      check: (t, res) => t.match(res.body.errors[0].hint, /letters, digits/, 'the hint says what a name may hold'),
    },
    invalid('a name that climbs', { ...base, name: '../etc' }, ['body.name']),
    invalid('a 300-character name', { ...base, name: 'n'.repeat(300) }, ['body.name'], /63/),
    invalid('an empty name', { ...base, name: '' }, ['body.name']),
    invalid('an unknown body field', { ...base, name: 'extra', colour: 'red' }, ['body.colour'], /unknown field "colour"/),
    invalid('a missing rootfsPath', { name: 'norootfs', kernelPath: kernel }, ['body.rootfsPath'], /is required/),
    invalid('a wrongly typed field', { ...base, name: 'typed', docker: 'perhaps' }, ['body.docker']),
    invalid('several problems at once', { rootfsPath: rootfs, name: 'x/y', extra: 1 }, ['body.name', 'body.extra']),
    invalid('a JSON array body', [], ['body']),

    badBuild('a base rootfs that is not ext4', { name: 'x', baseRootfs: notExt4 }, ['baseRootfs'], 'preflight-failed'),
    badBuild('a missing base rootfs', { name: 'x', baseRootfs: join(files, 'nope.ext4') }, ['baseRootfs'], 'preflight-failed'),
    badBuild('no source', { name: 'x' }, ['body.recipe']),
    badBuild('two sources', { name: 'x', recipe: 'busybox', baseRootfs: notExt4 }, ['body.recipe']),
    badBuild('an unknown recipe', { name: 'x', recipe: 'gentoo' }, ['body.recipe']),
    badBuild('an unreadable size', { name: 'x', recipe: 'busybox', size: '12 bananas' }, ['body.size']),
    badBuild('a size over the bound', { name: 'x', recipe: 'busybox', size: '100T' }, ['body.size']),
    badBuild('packages for busybox', { name: 'x', recipe: 'busybox', packages: ['curl'] }, ['body.packages']),
    badBuild('a bad package name', { name: 'x', recipe: 'debian-bookworm', packages: ['curl; rm -rf /'] }, ['body.packages']),
    badBuild('an unknown field', { name: 'x', recipe: 'busybox', colour: 'red' }, ['body.colour']),
    { name: 'build: a taken name', method: 'POST', path: '/images/builds', body: { name: 'bb', recipe: 'busybox' }, status: 409, code: 'image-name-taken' },

    { name: 'GET an unknown image', method: 'GET', path: '/images/no-such-image', status: 404, code: 'image-not-found', detail: /no-such-image/ },
    { name: 'DELETE an unknown image', method: 'DELETE', path: '/images/no-such-image', status: 404, code: 'image-not-found' },
    { name: 'promote an unknown image', method: 'POST', path: '/images/no-such-image/promote', status: 404, code: 'image-not-found' },
    { name: 'reseed an unknown image', method: 'POST', path: '/images/no-such-image/reseed', status: 404, code: 'image-not-found' },
    { name: 'reseed an unmanaged image', method: 'POST', path: '/images/bb/reseed', status: 409, code: 'image-not-managed', detail: /not managed/ },
    { name: 'a 101-character name is looked up', method: 'GET', path: `/images/${longName}`, status: 404, code: 'image-not-found', detail: longName },
    invalidField('GET', `/images/${'x'.repeat(300)}`, 'params.idOrName'),

    badQuery('cursor=this-is-not-a-cursor', 'cursor'),
    badQuery(`cursor=${wrongShapeCursor}`, 'cursor'),
    badQuery('limit=0', 'limit'),
    badQuery('limit=501', 'limit'),
    badQuery('limit=1&sort=desc', 'sort'),
  ]);
});

t.test('a symlink to a real file is accepted (control)', async (t) => {
  const image = await register({ name: 'linked', rootfsPath: goodLink, kernelPath: kernel });
  t.equal(image.rootfsPath, goodLink, 'the path is recorded as given');
  t.equal((await app.inject('DELETE', '/images/linked')).status, 200);
});

t.test('an image used by a VM cannot be deleted', async (t) => {
  const image = await register({ name: 'in-use', ...base });
  insertVmRow(app, { id: 'vm0000000000000a', name: 'web-1', imageId: image.id, state: 'stopped' });
  insertVmRow(app, { id: 'vm0000000000000b', name: 'db-1', imageId: image.id, state: 'running' });

  const refused = await app.inject('DELETE', '/images/in-use');
  assertProblem(t, refused, { status: 409, code: 'image-in-use', detail: /used by 2 VM\(s\): db-1, web-1/ });
  t.same((await app.inject('GET', `/images/${image.id}`)).body, image, 'the image is still there, unchanged');

  app.daemon.database.sqlite.prepare('DELETE FROM vms WHERE image_id = ?').run(image.id);
  t.equal((await app.inject('DELETE', '/images/in-use')).status, 200, 'deletes once no VM uses it');
  t.equal((await app.inject('GET', `/images/${image.id}`)).status, 404);
});
