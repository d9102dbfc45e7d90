// What the daemon, running as root, agrees to read when a request names a host file: each file must
// be what it claims to be (ext4, a kernel, an initrd, a modules dir, a text list), nothing on /proc,
// /sys or /dev, and inside the import roots when BANGER_IMPORT_ROOTS is set or the request comes
// over TCP. Registration, builds and promotion (which checks again) alike, in-process.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { checkProblemCases, fieldMessages, registrationRefused, startApp, type ProblemCase, type TestApp } from '../helpers/app.js';
import { makeTempDir, type HttpResult } from '../helpers/daemon.js';
import { makeExt4Image, makeInitrdFile, makeKernelFile, makeModulesDir } from '../helpers/ext4.js';

const secret = existsSync('/etc/shadow') ? '/etc/shadow' : '/etc/passwd';

const app = await startApp(t, { env: { BANGER_DEFAULT_KERNEL: undefined, BANGER_IMPORT_ROOTS: undefined } });
const files = await makeTempDir(t, 'banger-paths-');

// Good files, each kind; the rootfs in a dir of its own so that no work seed is found beside it.
mkdirSync(join(files, 'good'));
const rootfs = makeExt4Image(join(files, 'good', 'rootfs.ext4'), '16M');
const workSeed = makeExt4Image(join(files, 'seed.ext4'), '16M');
const kernel = makeKernelFile(files);
const initrd = makeInitrdFile(join(files, 'initrd.img'));
const modulesDir = makeModulesDir(join(files, 'modules', '6.1.0'));
const packages = join(files, 'packages.txt');
writeFileSync(packages, 'curl\ngit\n');
const good = { rootfsPath: rootfs, kernelPath: kernel };

// Files that are not what they are named.
const secretLink = join(files, 'shadow-link.ext4');
symlinkSync(secret, secretLink);
const environLink = join(files, 'environ-link.ext4');
symlinkSync('/proc/self/environ', environLink);
const fifo = join(files, 'rootfs.fifo');
execFileSync('mkfifo', [fifo]);
const textRootfs = join(files, 'text', 'rootfs.ext4');
mkdirSync(join(files, 'text'));
writeFileSync(textRootfs, 'this is not a filesystem\n');
const textKernel = join(files, 'vmlinuz-text');
writeFileSync(textKernel, 'this is not a kernel\n');
const binaryList = join(files, 'packages.bin');
writeFileSync(binaryList, Buffer.from([0x63, 0x75, 0x72, 0x6c, 0x00, 0x0a]));
const hugeList = join(files, 'packages-huge.txt');
writeFileSync(hugeList, 'curl\n'.repeat(300_000));
const emptyDir = join(files, 'empty-modules');
mkdirSync(emptyDir);
const vmlinux = join(files, 'vmlinux');
writeFileSync(vmlinux, elfHeader(2));
const sharedObject = join(files, 'vmlinux.so');
writeFileSync(sharedObject, elfHeader(3));

/** The first bytes of an x86-64 ELF file of type `type` (2: executable, 3: shared object). */
function elfHeader(type: number): Buffer {
  const header = Buffer.alloc(64);
  header.write('\x7fELF', 0, 'latin1');
  header[4] = 2; // 64-bit
  header[5] = 1; // little-endian
  header[6] = 1;
  header.writeUInt16LE(type, 16);
  header.writeUInt16LE(0x3e, 18);
  return header;
}

/** The field errors' messages, in order, each with a hint; and nothing of the secret file in the answer. */
function messages(...expected: RegExp[]) {
  const fields = fieldMessages(...expected);
  return (t: Test, res: HttpResult) => {
    fields(t, res);
    t.notMatch(res.text, /root:[^,"]*:\d/, 'nothing of the secret file is in the answer');
  };
}

const refused = (name: string, body: Record<string, unknown>, fields: string[], ...expected: RegExp[]): ProblemCase =>
  registrationRefused(name, body, fields, messages(...expected));

const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

t.test('registration refuses files that are not what they claim to be, and pseudo filesystems', async (t) => {
  const cases: ProblemCase[] = [
    refused(`${secret} as the rootfs`, { ...good, rootfsPath: secret }, ['rootfsPath'], new RegExp(`${escaped(secret)} is not an ext4 filesystem image`)),
    refused(`${secret} as the kernel`, { ...good, kernelPath: secret }, ['kernelPath'], new RegExp(`${escaped(secret)} is not a Linux kernel image`)),
    refused(
      `a symlink to ${secret}`,
      { ...good, rootfsPath: secretLink },
      ['rootfsPath'],
      new RegExp(`${escaped(secretLink)} is not an ext4 filesystem image`),
    ),
    refused('/proc/self/environ', { ...good, rootfsPath: '/proc/self/environ' }, ['rootfsPath'], /\/proc\/self\/environ is on \/proc, a pseudo filesystem/),
    refused('a symlink to /proc/self/environ', { ...good, rootfsPath: environLink }, ['rootfsPath'], /is on \/proc, a pseudo filesystem \(it resolves to \/proc\/\d+\/environ\)/),
    refused('/dev/null', { ...good, rootfsPath: '/dev/null' }, ['rootfsPath'], /\/dev\/null is on \/dev, a pseudo filesystem/),
    refused('/dev/sda-like paths as the work seed', { ...good, workSeedPath: '/dev/vda' }, ['workSeedPath'], /is on \/dev, a pseudo filesystem/),
    refused('a /sys file as the initrd', { ...good, initrdPath: '/sys/kernel/notes' }, ['initrdPath'], /is on \/sys, a pseudo filesystem/),
    refused('a fifo', { ...good, rootfsPath: fifo }, ['rootfsPath'], /is a fifo, expected a regular file/),
    refused('a directory', { ...good, rootfsPath: join(files, 'good') }, ['rootfsPath'], /is a directory, expected a regular file/),
    refused('a text file named rootfs.ext4', { ...good, rootfsPath: textRootfs }, ['rootfsPath'], /rootfs\.ext4 is not an ext4 filesystem image/),
    refused('a real ext4 rootfs with a kernel that is not one', { ...good, kernelPath: textKernel }, ['kernelPath'], /vmlinuz-text is not a Linux kernel image/),
    refused('an ELF shared object as the kernel', { ...good, kernelPath: sharedObject }, ['kernelPath'], /is not a Linux kernel image/),
    refused('an ext4 image as the kernel', { ...good, kernelPath: rootfs }, ['kernelPath'], /is not a Linux kernel image/),
    refused('a text work seed', { ...good, workSeedPath: textKernel }, ['workSeedPath'], /is not an ext4 filesystem image/),
    refused('an initrd that is not one', { ...good, initrdPath: textKernel }, ['initrdPath'], /is not an initrd/),
    refused('a packages list with NUL bytes', { ...good, packagesPath: binaryList }, ['packagesPath'], /is not a text file/),
    refused('a packages list over 1 MiB', { ...good, packagesPath: hugeList }, ['packagesPath'], /more than a text list may be \(1 MiB\)/),
    refused('a modules dir with no modules in it', { ...good, modulesDir: emptyDir }, ['modulesDir'], /is not a kernel modules dir/),
    refused('/etc as the modules dir', { ...good, modulesDir: '/etc' }, ['modulesDir'], /is not a kernel modules dir/),
    refused('/sys/module as the modules dir', { ...good, modulesDir: '/sys/module' }, ['modulesDir'], /is on \/sys, a pseudo filesystem/),
    refused(
      'everything wrong at once, each reported',
      { rootfsPath: secret, kernelPath: secret, initrdPath: '/proc/self/environ', workSeedPath: fifo },
      ['rootfsPath', 'kernelPath', 'initrdPath', 'workSeedPath'],
      /not an ext4/,
      /not a Linux kernel/,
      /is a fifo/,
      /pseudo filesystem/,
    ),
  ];
  const device = join(files, 'null-device');
  try {
    execFileSync('mknod', [device, 'c', '1', '3'], { stdio: 'ignore' });
    cases.push(refused('a device node outside /dev', { ...good, rootfsPath: device }, ['rootfsPath'], /is a character device, expected a regular file/));
  } catch {
    t.comment('mknod is not allowed here: the device node case is skipped');
  }
  await checkProblemCases(t, app, cases);
});

t.test('builds check their host paths the same way, before any job', async (t) => {
  const build = (name: string, body: Record<string, unknown>, fields: string[], code: string, ...expected: RegExp[]): ProblemCase => ({
    name: `build: ${name}`,
    method: 'POST',
    path: '/images/builds',
    body: { name: 'bad-build', ...body },
    status: 422,
    code,
    fields,
    check: messages(...expected),
  });
  await checkProblemCases(t, app, [
    build(`${secret} as the base rootfs`, { baseRootfs: secret }, ['baseRootfs'], 'preflight-failed', /is not an ext4 filesystem image/),
    build('/proc/self/environ as the base rootfs', { baseRootfs: '/proc/self/environ' }, ['baseRootfs'], 'preflight-failed', /pseudo filesystem/),
    build(
      'a kernel, initrd and modules dir that are not',
      { recipe: 'debian-bookworm', kernel: secret, initrd: '/etc/passwd', modulesDir: '/etc' },
      ['kernel', 'initrd', 'modulesDir'],
      'preflight-failed',
      /is not a Linux kernel image/,
      /is not an initrd/,
      /is not a kernel modules dir/,
    ),
    build('a binary packages file', { recipe: 'debian-bookworm', packagesFile: binaryList }, ['packagesFile'], 'preflight-failed', /is not a text file/),
    // A text file passes as a list; its lines are then refused by number, never echoed.
    build(`${secret} as the packages file`, { recipe: 'debian-bookworm', packagesFile: secret }, ['body.packagesFile'], 'validation-failed', /not Debian package names on lines? \d/),
  ]);
});

t.test('good files of every kind are accepted; an ELF vmlinux is a kernel too', async (t) => {
  const res = await app.inject('POST', '/images', { name: 'every-kind', ...good, workSeedPath: workSeed, initrdPath: initrd, modulesDir, packagesPath: packages });
  t.equal(res.status, 201, res.text);
  const elf = await app.inject('POST', '/images', { name: 'elf-kernel', ...good, kernelPath: vmlinux });
  t.equal(elf.status, 201, elf.text);
  const linked = join(files, 'rootfs-link.ext4');
  symlinkSync(rootfs, linked);
  const viaLink = await app.inject('POST', '/images', { name: 'via-link', ...good, rootfsPath: linked });
  t.equal(viaLink.status, 201, 'a symlink to a real ext4 image is fine');
  for (const name of ['every-kind', 'elf-kernel', 'via-link']) t.equal((await app.inject('DELETE', `/images/${name}`)).status, 200);
});

t.test('promote checks the files again: one replaced since registration is refused, nothing copied', async (t) => {
  const dir = join(files, 'swapped');
  mkdirSync(dir);
  const path = makeExt4Image(join(dir, 'rootfs.ext4'), '16M');
  t.equal((await app.inject('POST', '/images', { name: 'swapped', rootfsPath: path, kernelPath: kernel })).status, 201);
  rmSync(path);
  symlinkSync(secret, path);
  await checkProblemCases(t, app, [
    {
      name: `the rootfs is now a symlink to ${secret}`,
      method: 'POST',
      path: '/images/swapped/promote',
      status: 422,
      code: 'preflight-failed',
      fields: ['rootfsPath'],
      detail: /^Cannot promote image swapped: /,
      check: messages(/is not an ext4 filesystem image \(it resolves to/),
    },
  ]);
  rmSync(path);
  makeExt4Image(path, '16M');
  const job = await promoteAndWait(app, 'swapped');
  t.equal(job.status, 'succeeded', JSON.stringify(job.error));
  t.ok(existsSync(join(app.stateDir, 'images', job.target.id, 'rootfs.ext4')), 'a good file is copied');
  t.equal((await app.inject('DELETE', '/images/swapped')).status, 200);
});

t.test('over TCP, paths must lie under <state-dir>/imports unless BANGER_IMPORT_ROOTS says more', async (t) => {
  const token = '0123456789abcdef0123456789abcdef';
  const tcp = await startApp(t, { token, env: { BANGER_DEFAULT_KERNEL: undefined, BANGER_IMPORT_ROOTS: undefined } });
  const auth = { authorization: `Bearer ${token}` };
  const imports = join(tcp.stateDir, 'imports');
  t.ok(existsSync(imports), 'the daemon made imports/');
  const outsideKernel = makeKernelFile(files, 'vmlinuz-tcp');

  const tcpRefused = (name: string, body: Record<string, unknown>, fields: string[], ...expected: RegExp[]): ProblemCase => ({
    ...refused(name, body, fields, ...expected),
    headers: auth,
  });
  const linkOut = join(imports, 'link-out.ext4');
  symlinkSync(rootfs, linkOut);
  await checkProblemCases(t, tcp, [
    tcpRefused('a good ext4 image outside imports/', { rootfsPath: rootfs, kernelPath: outsideKernel }, ['rootfsPath', 'kernelPath'], /is outside the import roots/, /is outside the import roots/),
    tcpRefused(`${secret}`, { rootfsPath: secret, kernelPath: outsideKernel }, ['rootfsPath', 'kernelPath'], new RegExp(`${escaped(secret)} is outside the import roots \\(${escaped(imports)}\\)`)),
    tcpRefused('a missing file outside imports/ is not looked at', { rootfsPath: join(files, 'nope.ext4'), kernelPath: outsideKernel }, ['rootfsPath', 'kernelPath'], /is outside the import roots/),
    tcpRefused('a symlink in imports/ to a file outside it', { rootfsPath: linkOut, kernelPath: outsideKernel }, ['rootfsPath', 'kernelPath'], /is outside the import roots \(.*\) \(it resolves to /),
    {
      name: 'a build from a base rootfs outside imports/',
      method: 'POST',
      path: '/images/builds',
      body: { name: 'tcp-build', baseRootfs: rootfs },
      headers: auth,
      status: 422,
      code: 'preflight-failed',
      fields: ['baseRootfs'],
      check: (t, res) => t.match(res.body.errors[0].hint, /over TCP.*imports/),
    },
  ]);

  const hint = (await tcp.inject('POST', '/images', { name: 'x', rootfsPath: rootfs, kernelPath: outsideKernel }, auth)).body.errors[0].hint;
  t.match(hint, new RegExp(`requests over TCP may only name files under ${escaped(imports)}`), 'the hint says where files go');

  const importedRootfs = join(imports, 'rootfs.ext4');
  copyFileSync(rootfs, importedRootfs);
  const importedKernel = makeKernelFile(imports);
  const accepted = await tcp.inject('POST', '/images', { name: 'imported', rootfsPath: importedRootfs, kernelPath: importedKernel }, auth);
  t.equal(accepted.status, 201, `the same file copied into imports/ is accepted: ${accepted.text}`);
  const job = await promoteAndWait(tcp, 'imported', auth);
  t.equal(job.status, 'succeeded', JSON.stringify(job.error));
});

t.test('an image registered over the unix socket from outside the roots is not promoted over TCP', async (t) => {
  const token = 'fedcba9876543210fedcba9876543210';
  const both = await startApp(t, { token, env: { BANGER_IMPORT_ROOTS: undefined } });
  const unixApp = await buildUnixApp(both);
  const registered = await unixApp.inject({ method: 'POST', url: '/images', payload: { name: 'local', ...good } });
  t.equal(registered.statusCode, 201, registered.body);
  const res = await both.inject('POST', '/images/local/promote', undefined, { authorization: `Bearer ${token}` });
  t.equal(res.status, 422, res.text);
  t.equal(res.body.code, 'preflight-failed');
  t.match(res.body.errors[0].message, /is outside the import roots/);
  await unixApp.close();
});

t.test('BANGER_IMPORT_ROOTS binds the unix socket too; the operator’s default kernel is exempt', async (t) => {
  const root = join(files, 'root');
  mkdirSync(root);
  const inRoot = makeExt4Image(join(root, 'rootfs.ext4'), '16M');
  const bound = await startApp(t, { env: { BANGER_IMPORT_ROOTS: `${root}:/nonexistent/later`, BANGER_DEFAULT_KERNEL: kernel } });
  await checkProblemCases(t, bound, [
    refused('a good ext4 image outside the roots', { rootfsPath: rootfs }, ['rootfsPath'], new RegExp(`is outside the import roots \\(${escaped(join(bound.stateDir, 'imports'))}:${escaped(root)}:/nonexistent/later\\)`)),
    {
      ...refused('its hint names BANGER_IMPORT_ROOTS', { rootfsPath: rootfs }, ['rootfsPath']),
      check: (t, res) => t.match(res.body.errors[0].hint, /BANGER_IMPORT_ROOTS/),
    },
    refused('a kernel the request names outside the roots', { rootfsPath: inRoot, kernelPath: kernel }, ['kernelPath'], /is outside the import roots/),
  ]);
  const res = await bound.inject('POST', '/images', { name: 'in-root', rootfsPath: inRoot });
  t.equal(res.status, 201, res.text);
  t.equal(res.body.kernelPath, kernel, 'the default kernel, outside the roots, is the operator’s choice');
});

t.test('BANGER_IMPORT_ROOTS must be absolute dirs off the pseudo filesystems', async (t) => {
  const { parseImportRoots } = await import('../../server/config.js');
  t.same(parseImportRoots(undefined), null);
  t.same(parseImportRoots(''), null);
  t.same(parseImportRoots('/srv/images::/data/images/'), ['/srv/images', '/data/images']);
  t.throws(() => parseImportRoots('srv/images'), /absolute/);
  t.throws(() => parseImportRoots('/'), /cannot hold \//);
  t.throws(() => parseImportRoots('/srv:/proc/self'), /\/proc is a pseudo filesystem/);
  t.throws(() => parseImportRoots('/dev/shm'), /pseudo filesystem/);
  t.throws(() => parseImportRoots('/sys'), /pseudo filesystem/);
});

async function promoteAndWait(app: TestApp, name: string, headers: Record<string, string> = {}): Promise<any> {
  const started = await app.inject('POST', `/images/${name}/promote`, undefined, headers);
  if (started.status !== 202) throw new Error(`promote ${name}: ${started.status} ${started.text}`);
  const done = await app.inject('GET', `/jobs/${started.body.id}?wait=60`, undefined, headers);
  return done.body;
}

/** The unix socket's app over the same services as `tcp`: no token, so its requests are local. */
async function buildUnixApp(tcp: TestApp) {
  const { buildApp } = await import('../../server/app.js');
  const { pino } = await import('pino');
  const app = await buildApp({ services: tcp.daemon.services, logger: pino({ level: 'silent' }), bodyLimit: 64 * 1024 });
  await app.ready();
  return app;
}
