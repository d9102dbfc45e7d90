import { spawnSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import t, { type Test } from 'tap';
import { buildBusyboxRootfs } from '../../server/guest/busybox-rootfs.js';
import { parseLddOutput } from '../../server/guest/busybox-ssh.js';
import { guestFiles } from '../../server/guest/guest-files.js';
import { buildInitrd, DEFAULT_INITRD_MODULES } from '../../server/guest/initrd.js';
import { isStaticElf } from '../../server/host/busybox.js';
import { decodeCpio } from '../../server/host/cpio.js';
import { ModuleNotFoundError } from '../../server/host/kernel/modules-dep.js';

const VERSION = '6.1.0-99-test-amd64';

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'banger-initrd-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A modules dir shaped like the cloud kernel's; the .ko files only carry their names. */
async function fakeModulesDir(root: string): Promise<string> {
  const dir = join(root, 'lib/modules', VERSION);
  const dep: Record<string, string[]> = {
    'kernel/drivers/virtio/virtio_ring.ko': [],
    'kernel/drivers/virtio/virtio.ko': ['kernel/drivers/virtio/virtio_ring.ko'],
    'kernel/drivers/virtio/virtio_mmio.ko': ['kernel/drivers/virtio/virtio.ko', 'kernel/drivers/virtio/virtio_ring.ko'],
    'kernel/drivers/virtio/virtio_pci_modern_dev.ko': [],
    'kernel/drivers/virtio/virtio_pci.ko': ['kernel/drivers/virtio/virtio_pci_modern_dev.ko', 'kernel/drivers/virtio/virtio.ko', 'kernel/drivers/virtio/virtio_ring.ko'],
    'kernel/drivers/block/virtio_blk.ko': ['kernel/drivers/virtio/virtio.ko', 'kernel/drivers/virtio/virtio_ring.ko'],
    'kernel/drivers/net/virtio_net.ko': ['kernel/drivers/virtio/virtio.ko', 'kernel/drivers/virtio/virtio_ring.ko'],
    'kernel/drivers/char/virtio_console.ko': ['kernel/drivers/virtio/virtio.ko', 'kernel/drivers/virtio/virtio_ring.ko'],
    'kernel/fs/fat/fat.ko': [],
  };
  for (const path of Object.keys(dep)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), `module ${path}`);
  }
  await writeFile(join(dir, 'modules.dep'), Object.entries(dep).map(([path, deps]) => `${path}:${deps.map((d) => ` ${d}`).join('')}\n`).join(''));
  await writeFile(join(dir, 'modules.builtin'), 'kernel/fs/ext4/ext4.ko\n');
  return dir;
}

t.test('buildInitrd packs busybox, /init and the modules in load order', async (t) => {
  const dir = await tempDir(t);
  const modulesDir = await fakeModulesDir(dir);
  const output = join(dir, 'initrd.img');
  const result = await buildInitrd(output, { modulesDir, kernelVersion: VERSION, modules: DEFAULT_INITRD_MODULES });

  t.same(result.builtin, ['ext4']);
  t.equal(result.loadOrder[0], 'kernel/drivers/virtio/virtio_ring.ko');
  t.equal(result.loadOrder.length, 8);
  t.equal(result.sizeBytes, (await stat(output)).size);

  const entries = new Map(decodeCpio(gunzipSync(await readFile(output))).map((entry) => [entry.name, entry]));
  const init = entries.get('init');
  t.equal(init?.mode, 0o100755);
  t.equal(init?.data.toString(), await readFile(guestFiles.initrdInit, 'utf8'));
  const busybox = entries.get('bin/busybox');
  t.ok(busybox && isStaticElf(busybox.data), 'static busybox');
  t.equal(entries.get('bin/sh')?.data.toString(), '/bin/busybox');
  t.equal(entries.get('sbin/switch_root')?.data.toString(), '/bin/busybox');
  t.equal(entries.get('sbin/insmod')?.data.toString(), '/bin/busybox');
  const console = entries.get('dev/console');
  t.same(console && [console.mode, console.rdevMajor, console.rdevMinor], [0o020600, 5, 1]);
  t.same(
    entries.get(`lib/modules/${VERSION}/banger-load-order`)?.data.toString().trim().split('\n'),
    result.loadOrder,
  );
  t.equal(entries.get(`lib/modules/${VERSION}/kernel/drivers/net/virtio_net.ko`)?.data.toString(), 'module kernel/drivers/net/virtio_net.ko');
  t.notOk(entries.has(`lib/modules/${VERSION}/kernel/fs/fat/fat.ko`), 'only what was asked for');

  // Every entry's parent directory precedes it: the kernel does not create them.
  const order = decodeCpio(gunzipSync(await readFile(output))).map((entry) => entry.name);
  for (const [index, name] of order.entries()) {
    const parent = name.split('/').slice(0, -1).join('/');
    if (parent !== '') t.ok(order.indexOf(parent) >= 0 && order.indexOf(parent) < index, `${parent} before ${name}`);
  }
});

t.test('buildInitrd refuses what it cannot honour', async (t) => {
  const dir = await tempDir(t);
  const modulesDir = await fakeModulesDir(dir);
  await t.rejects(buildInitrd(join(dir, 'a.img'), { modulesDir, kernelVersion: VERSION, modules: ['virtio_gpu'] }), ModuleNotFoundError);
  await t.rejects(buildInitrd(join(dir, 'b.img'), { modulesDir: dir, kernelVersion: VERSION, modules: [] }), /modules\.dep/);
  await t.rejects(
    buildInitrd(join(dir, 'c.img'), { modulesDir, kernelVersion: VERSION, modules: [], busyboxPath: '/usr/bin/env' }),
    /dynamically linked/,
  );
  await t.rejects(stat(join(dir, 'a.img')), { code: 'ENOENT' });
});

t.test('buildBusyboxRootfs lays out a bootable busybox system', async (t) => {
  const dir = await tempDir(t);
  const modulesDir = await fakeModulesDir(dir);
  const root = join(dir, 'root');
  await buildBusyboxRootfs(root, { modulesDir, kernelVersion: VERSION, hostname: 'guest-1' });

  const mode = async (path: string): Promise<string> => ((await lstat(join(root, path))).mode & 0o7777).toString(8);
  t.equal(await mode('bin/busybox'), '755');
  t.equal(await readlink(join(root, 'sbin/init')), '/bin/busybox');
  t.equal(await readlink(join(root, 'bin/sh')), '/bin/busybox');
  t.equal(await readlink(join(root, 'usr/sbin/httpd')), '/bin/busybox');
  t.equal(await readlink(join(root, 'sbin/udhcpc')), '/bin/busybox');
  t.equal(await mode('usr/sbin/banger-agent'), '755');
  t.equal(await readFile(join(root, 'usr/sbin/banger-agent'), 'utf8'), await readFile(guestFiles.agent, 'utf8'));
  t.equal(await mode('etc/init.d/rcS'), '755');
  t.equal(await mode('usr/share/udhcpc/default.script'), '755');
  t.match(await readFile(join(root, 'etc/inittab'), 'utf8'), /::respawn:\/usr\/sbin\/banger-agent/);
  t.equal(await readFile(join(root, 'etc/hostname'), 'utf8'), 'guest-1\n');
  t.equal(await mode('tmp'), '1777');
  t.equal(await mode('root'), '700');
  t.equal(await mode('etc/shadow'), '600');
  t.equal(
    await readFile(join(root, 'lib/modules', VERSION, 'kernel/drivers/net/virtio_net.ko'), 'utf8'),
    'module kernel/drivers/net/virtio_net.ko',
  );
  t.equal(await mode('usr/sbin/dropbear'), '755');
  t.equal(await mode('usr/lib/sftp-server'), '755', 'where Debian builds dropbear to find the SFTP server');
  t.equal(await mode('etc/dropbear'), '700');
  t.same(await readdir(join(root, 'etc/dropbear')), [], 'no host key in the image: each VM makes its own');
  // The copied loader and libraries are enough to run the copied dropbear inside the tree alone.
  const version = spawnSync('chroot', [root, '/usr/sbin/dropbear', '-V'], { encoding: 'utf8' });
  t.match(version.stderr, /^Dropbear v\d+/, `dropbear runs in the tree: ${version.stderr}`);
  await t.rejects(buildBusyboxRootfs(root, {}), /not empty/);
});

t.test('ldd output becomes the files to copy', async (t) => {
  const output = [
    '\tlinux-vdso.so.1 (0x00007ffd1e9f5000)',
    '\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f8efe709000)',
    '\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f8efe4eb000)',
    '\t/lib64/ld-linux-x86-64.so.2 (0x00007f8efe867000)',
    '',
  ].join('\n');
  t.same(parseLddOutput(output), ['/lib/x86_64-linux-gnu/libz.so.1', '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']);
  t.same(parseLddOutput('\tstatically linked\n'), []);
  t.throws(() => parseLddOutput('\tlibtomcrypt.so.1 => not found\n'), /missing on the host/);
  t.throws(() => parseLddOutput('something else\n'), /unexpected ldd output/);
});
