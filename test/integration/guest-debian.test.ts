import { existsSync } from 'node:fs';
import { lstat, mkdtemp, readdir, readFile, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { mountsUnder } from '../../server/host/remove-tree.js';
import { processesMentioning } from '../helpers/api.js';
import { extractBaseRootfs, installPackagesInto, NotExt4Error } from '../../server/guest/base-rootfs.js';
import { bootstrapDebianRootfs, type DebianBuildPhase } from '../../server/guest/debian-rootfs.js';
import { AGENT_GUEST_PATH } from '../../server/guest/debian/guest-spec.js';
import type { InstalledPackage } from '../../server/guest/debian/packages.js';
import { makeExt4 } from '../../server/host/ext4.js';
import { run, RunError } from '../../server/host/runner.js';

// A Debian bootstrap and a base-rootfs round trip take minutes on a busy host.
t.setTimeout(20 * 60 * 1000);

const MiB = 1024 * 1024;

const work = await mkdtemp(join(tmpdir(), 'banger-debian-'));
t.teardown(() => rm(work, { recursive: true, force: true }));

/** Live processes whose command line mentions marker, as readable lines. */
function processLines(marker: string): string[] {
  return processesMentioning(marker).map(({ pid, argv }) => `${pid}: ${argv.join(' ')}`);
}

/** Waits briefly for processes mentioning marker to go: the kernel reaps a dead PID namespace asynchronously. */
async function leftovers(marker: string, graceMs = 5000): Promise<string[]> {
  const deadline = Date.now() + graceMs;
  for (;;) {
    const found = processLines(marker);
    if (found.length === 0 || Date.now() > deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}




const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

async function diskUsage(path: string): Promise<number> {
  const result = await run('du', ['-s', '-B1', path]);
  return Number(result.stdout.split('\t')[0]);
}

// Failures, cancellation and booting are covered through the API in api-build-debian.test.ts.
let installed: InstalledPackage[] = [];
let tree: string | undefined;

t.test('bootstrap Debian with jq', async (t) => {
  const rootDir = join(work, 'tree');
  const phases: { phase: DebianBuildPhase; at: number }[] = [];
  const logged: string[] = [];
  const started = Date.now();
  installed = await bootstrapDebianRootfs(rootDir, {
    packages: ['jq'],
    onPhase: (phase) => phases.push({ phase, at: Date.now() - started }),
    log: { write: (chunk) => logged.push(chunk.toString()) },
  });
  const took = Date.now() - started;
  t.comment(`bootstrap took ${seconds(took)} (install_packages from ${seconds(phases[1]?.at ?? 0)}); tree ${Math.round((await diskUsage(rootDir)) / MiB)} MiB`);
  t.same(phases.map(({ phase }) => phase), ['bootstrap_rootfs', 'install_packages']);
  t.ok((phases[1]?.at ?? 0) > 1000, 'install_packages is reported when mmdebstrap gets there, not at the start');
  t.match(logged.join(''), /I: installing remaining packages inside the chroot/, 'mmdebstrap output goes to the log');

  const names = new Set(installed.map((pkg) => pkg.name));
  for (const name of ['jq', 'openssh-server', 'systemd-sysv', 'systemd-resolved', 'udev', 'iproute2']) t.ok(names.has(name), `${name} installed`);
  t.notOk(names.has('docker.io'), 'no docker unless asked');
  const status = await readFile(join(rootDir, 'var/lib/dpkg/status'), 'utf8');
  t.match(status, /^Package: jq\nStatus: install ok installed$/m);

  const sshd = await readFile(join(rootDir, 'etc/ssh/sshd_config.d/banger.conf'), 'utf8');
  t.match(sshd, /^PasswordAuthentication no$/m);
  t.match(sshd, /^KbdInteractiveAuthentication no$/m);
  t.match(sshd, /^PermitRootLogin prohibit-password$/m);
  t.match(await readFile(join(rootDir, 'etc/ssh/sshd_config'), 'utf8'), /^Include \/etc\/ssh\/sshd_config\.d\/\*\.conf$/m);
  t.same((await readdir(join(rootDir, 'etc/ssh'))).filter((name) => name.startsWith('ssh_host_')), [], 'no host keys baked into the image');

  const agent = await stat(join(rootDir, AGENT_GUEST_PATH.slice(1)));
  t.equal(agent.mode & 0o777, 0o755, 'agent installed and executable');
  const wants = (unit: string, target: string): Promise<string> => readlink(join(rootDir, 'etc/systemd/system', `${target}.wants`, unit));
  t.equal(await wants('banger-agent.service', 'multi-user.target'), '/etc/systemd/system/banger-agent.service', 'agent enabled');
  t.equal(await wants('systemd-networkd.service', 'multi-user.target'), '/lib/systemd/system/systemd-networkd.service', 'networkd enabled');
  t.equal(await wants('systemd-resolved.service', 'sysinit.target'), '/lib/systemd/system/systemd-resolved.service', 'resolved enabled');
  t.equal(await wants('serial-getty@ttyS0.service', 'getty.target'), '/lib/systemd/system/serial-getty@.service', 'getty on ttyS0');
  t.equal(await wants('banger-ssh-hostkeys.service', 'ssh.service'), '/etc/systemd/system/banger-ssh-hostkeys.service', 'host keys made at boot');
  t.equal(await wants('ssh.service', 'multi-user.target'), '/lib/systemd/system/ssh.service', 'sshd enabled');
  t.notOk(existsSync(join(rootDir, 'etc/systemd/system/timers.target.wants/apt-daily.timer')), 'no background apt runs');
  t.match(await readFile(join(rootDir, 'etc/modules-load.d/banger.conf'), 'utf8'), /^virtio_console$/m);
  t.match(await readFile(join(rootDir, 'etc/fstab'), 'utf8'), /^\/dev\/vdb\t\/root\text4\t[^\t]*nofail/m);
  t.equal(await readlink(join(rootDir, 'etc/resolv.conf')), '../run/systemd/resolve/stub-resolv.conf');
  t.match(await readFile(join(rootDir, 'etc/shadow'), 'utf8'), /^root:\*:/m, 'root has no password');
  const shadow = await stat(join(rootDir, 'etc/shadow'));
  t.equal(`${shadow.gid} ${(shadow.mode & 0o777).toString(8)}`, '42 640', '/etc/shadow keeps group shadow');
  t.equal(await readFile(join(rootDir, 'etc/hostname'), 'utf8'), 'banger\n');
  t.same(mountsUnder(rootDir), [], 'nothing mounted on the host');
  tree = rootDir;
});


t.test('a base rootfs extracted from an image takes more packages', async (t) => {
  if (tree === undefined) return t.plan(0, 'no bootstrapped tree');
  const baseImage = join(work, 'base.ext4');
  let started = Date.now();
  await makeExt4(baseImage, 1024 * MiB, { fromDir: tree });
  t.comment(`mkfs.ext4 -d of the tree: ${seconds(Date.now() - started)}`);

  const notExt4 = join(work, 'not-ext4.img');
  await run('truncate', ['-s', '8M', notExt4]);
  await t.rejects(extractBaseRootfs(notExt4, join(work, 'never')), NotExt4Error, 'non-ext4 input is refused');
  t.notOk(existsSync(join(work, 'never')), 'before creating anything');

  const rootDir = join(work, 'extracted');
  started = Date.now();
  await extractBaseRootfs(baseImage, rootDir);
  t.comment(`extract: ${seconds(Date.now() - started)}`);
  for (const [path, mode] of [
    ['usr/bin/su', 0o4755],
    ['usr/bin/passwd', 0o4755],
    ['usr/bin/chage', 0o2755],
    ['tmp', 0o1777],
    ['var/tmp', 0o1777],
    ['root', 0o700],
    ['etc/shadow', 0o640],
  ] as const) {
    const original = await lstat(join(tree, path));
    const copy = await lstat(join(rootDir, path));
    t.equal((copy.mode & 0o7777).toString(8), (mode & 0o7777).toString(8), `${path} mode`);
    t.equal(copy.mode, original.mode, `${path} as in the tree`);
    t.equal(`${copy.uid}:${copy.gid}`, `${original.uid}:${original.gid}`, `${path} owner`);
  }
  const devNull = await lstat(join(rootDir, 'dev/null'));
  t.ok(devNull.isCharacterDevice() && devNull.rdev === (await lstat(join(tree, 'dev/null'))).rdev, 'device nodes come back');
  const perl = await lstat(join(rootDir, 'usr/bin/perl'));
  t.equal(perl.nlink, (await lstat(join(tree, 'usr/bin/perl'))).nlink, 'hard links come back');
  t.equal(await readlink(join(rootDir, 'etc/resolv.conf')), '../run/systemd/resolve/stub-resolv.conf', 'symlinks kept');

  const spawned: number[] = [];
  started = Date.now();
  const after = await installPackagesInto(rootDir, ['tree'], { onSpawn: (pid) => spawned.push(pid) });
  t.comment(`installPackagesInto (apt-get update + tree): ${seconds(Date.now() - started)}`);
  t.equal(spawned.length, 1);
  t.ok(after.some((pkg) => pkg.name === 'tree'), 'tree installed');
  t.ok(after.some((pkg) => pkg.name === 'jq'), 'jq still there');
  t.ok(existsSync(join(rootDir, 'usr/bin/tree')));
  t.notOk(existsSync(join(rootDir, 'usr/sbin/policy-rc.d')), 'no policy-rc.d left behind');
  t.same((await readdir(join(rootDir, 'var/lib/apt/lists'))).filter((name) => name.endsWith('Packages')), [], 'package lists cleaned');
  t.same(mountsUnder(rootDir), [], 'nothing mounted on the host');
  t.same(await leftovers(rootDir), [], 'no process left');

  const failed = await installPackagesInto(rootDir, ['banger-no-such-package']).catch((e: unknown) => e);
  t.ok(failed instanceof RunError && /Unable to locate package banger-no-such-package/.test(failed.stderr), 'an unknown package fails with apt\'s message');
  t.match((failed as Error).message, /^apt-get failed: E: Unable to locate package banger-no-such-package/);
  await t.rejects(installPackagesInto(rootDir, ['-oDebug::x=1']), /invalid Debian package name/);
});
