import { chown, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseDeviceNumbers, parseLsLine, splitDebugfsOutput } from '../../server/guest/base-rootfs.js';
import { bootstrapSources } from '../../server/guest/debian-rootfs.js';
import {
  aptErrorSummary,
  basePackageName,
  checkPackageNames,
  debianGuestFiles,
  debianMirrorLines,
  enableUnit,
  fstabContent,
  hostsContent,
  isValidPackageName,
  linkInTree,
  lockRootPassword,
  missingPackages,
  parseDeb822Sources,
  parseDpkgStatus,
  parseOneLineSources,
  parseUnitInstall,
  privateNamespaceArgs,
  sshdIncludesDropIns,
  withAptMessage,
  withDropInsFirst,
  writeTreeFile,
} from '../../server/guest/rootfs-config.js';
import { RunError } from '../../server/host/runner.js';

/** keyword → first value, the way sshd reads its configuration (first one wins). */
function sshdSettings(text: string): Map<string, string> {
  const settings = new Map<string, string>();
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [key, ...value] = line.split(/\s+/);
    if (key && !settings.has(key.toLowerCase())) settings.set(key.toLowerCase(), value.join(' '));
  }
  return settings;
}

/** section → key → values of an INI-style systemd file. */
function unitSections(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header?.[1]) {
      current = new Map();
      sections.set(header[1], current);
      continue;
    }
    const equals = line.indexOf('=');
    if (!current || equals <= 0) continue;
    const key = line.slice(0, equals);
    current.set(key, [...(current.get(key) ?? []), line.slice(equals + 1)]);
  }
  return sections;
}

t.test('sshd drop-in allows key logins only', async (t) => {
  const settings = sshdSettings(await readFile(debianGuestFiles.sshdDropIn, 'utf8'));
  t.equal(settings.get('passwordauthentication'), 'no');
  t.equal(settings.get('kbdinteractiveauthentication'), 'no');
  t.equal(settings.get('permitemptypasswords'), 'no');
  t.equal(settings.get('permitrootlogin'), 'prohibit-password');
  t.equal(settings.get('pubkeyauthentication'), 'yes');
  const hostKeys = (await readFile(debianGuestFiles.sshdDropIn, 'utf8')).split('\n').filter((line) => line.startsWith('HostKey '));
  t.same(hostKeys, ['HostKey /etc/ssh/ssh_host_ed25519_key', 'HostKey /etc/ssh/ssh_host_ecdsa_key'], 'the keys banger-ssh-hostkeys makes');
});

t.test('sshd_config must read the drop-ins before its own settings', async (t) => {
  const debian = 'Include /etc/ssh/sshd_config.d/*.conf\n\nKbdInteractiveAuthentication no\nUsePAM yes\n';
  t.ok(sshdIncludesDropIns(debian));
  t.equal(withDropInsFirst(debian), debian, 'left alone when it already does');
  const old = '# comment\nPasswordAuthentication yes\nInclude /etc/ssh/sshd_config.d/*.conf\n';
  t.notOk(sshdIncludesDropIns(old), 'an Include after a setting is too late');
  const fixed = withDropInsFirst(old);
  t.ok(sshdIncludesDropIns(fixed));
  t.ok(fixed.endsWith(old));
  t.notOk(sshdIncludesDropIns(''));
});

t.test('networkd configuration matches the NIC by type and name, with DHCP', async (t) => {
  const sections = unitSections(await readFile(debianGuestFiles.networkdDhcp, 'utf8'));
  t.same(sections.get('Match')?.get('Type'), ['ether']);
  t.same(sections.get('Match')?.get('Name'), ['e*'], 'eth0 (net.ifnames=0) and enp0s…/ens… alike, no veth or bridges');
  t.same(sections.get('Network')?.get('DHCP'), ['ipv4']);
  t.match(debianGuestFiles.networkdDhcp, /\/80-[^/]+\.network$/, 'sorts after files generated from ip= (70-…)');
});

t.test('units: agent, host keys, ssh ordering', async (t) => {
  const agent = unitSections(await readFile(debianGuestFiles.agentUnit, 'utf8'));
  t.same(agent.get('Service')?.get('ExecStart'), ['/usr/local/bin/banger-agent']);
  t.same(agent.get('Service')?.get('Restart'), ['always']);
  t.same(agent.get('Install')?.get('WantedBy'), ['multi-user.target']);
  const keys = unitSections(await readFile(debianGuestFiles.sshHostKeysUnit, 'utf8'));
  t.same(keys.get('Unit')?.get('Before'), ['ssh.service']);
  t.same(keys.get('Service')?.get('Type'), ['oneshot']);
  const keygen = keys.get('Service')?.get('ExecStart') ?? [];
  t.equal(keygen.length, 1);
  for (const type of ['ed25519', 'ecdsa']) t.match(keygen[0], new RegExp(`\\b${type}\\b`), `makes ${type} keys`);
  t.notMatch(keygen[0], /rsa/, 'no RSA key: too slow to make under TCG');
  t.match(keygen[0], /\[ -e "\$\$key" \] \|\|/, 'keeps existing keys');
  t.same(keys.get('Install')?.get('WantedBy'), ['ssh.service']);
  const dropIn = unitSections(await readFile(debianGuestFiles.sshWorkDiskDropIn, 'utf8'));
  t.same(dropIn.get('Unit')?.get('After'), ['root.mount']);
  const modules = (await readFile(debianGuestFiles.modulesLoad, 'utf8')).split('\n').filter((line) => line !== '' && !line.startsWith('#'));
  t.same(modules, ['virtio_console']);
});

t.test('fstab mounts the work disk on /root without blocking boot', async (t) => {
  const lines = fstabContent().split('\n').filter((line) => line !== '' && !line.startsWith('#'));
  t.equal(lines.length, 1);
  const [device, mountPoint, type, options, dump, pass] = (lines[0] ?? '').split('\t');
  t.equal(device, '/dev/vdb');
  t.equal(mountPoint, '/root');
  t.equal(type, 'ext4');
  t.ok(options?.split(',').includes('nofail'));
  t.match(options ?? '', /x-systemd\.device-timeout=\d+s/);
  t.equal(dump, '0');
  t.equal(pass, '2');
  t.match(fstabContent({ workDisk: 'LABEL=banger-work' }), /^LABEL=banger-work\t\/root\t/m);
  t.throws(() => fstabContent({ workDisk: '/dev/vdb /etc ext4' }), /invalid work disk/);
  t.throws(() => fstabContent({ workDisk: 'LABEL=much-too-long-a-label' }), /invalid work disk/);
});

t.test('hosts and root password', async (t) => {
  t.match(hostsContent('banger'), /^127\.0\.1\.1\tbanger$/m);
  t.throws(() => hostsContent('bad name'), /invalid hostname/);
  t.throws(() => hostsContent('-x'), /invalid hostname/);
  const shadow = 'root:$y$j9T$abc$def:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n';
  t.equal(lockRootPassword(shadow), 'root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n');
  t.equal(lockRootPassword('root::19000:0:99999:7:::'), 'root:*:19000:0:99999:7:::', 'an empty password is locked too');
  t.throws(() => lockRootPassword('daemon:*:1:::::\n'), /no root entry/);
});

t.test('package names', async (t) => {
  for (const name of ['jq', 'openssh-server', 'g++', 'libc6:amd64', 'docker.io', 'jq=1.6-2.1', 'python3.11']) t.ok(isValidPackageName(name), name);
  for (const name of ['', '-o', '--allow-unauthenticated', 'a', 'Jq', 'jq,vim', 'jq vim', 'jq;rm', '../x', 'jq\n']) t.notOk(isValidPackageName(name), JSON.stringify(name));
  t.throws(() => checkPackageNames(['jq', '-oAPT::x=1']), /invalid Debian package name: "-oAPT::x=1"/);
  t.doesNotThrow(() => checkPackageNames([]));
  t.equal(basePackageName('libc6:amd64'), 'libc6');
  t.equal(basePackageName('jq=1.6-2.1'), 'jq');
});

t.test('dpkg status', async (t) => {
  const status = [
    'Package: jq',
    'Status: install ok installed',
    'Architecture: amd64',
    'Version: 1.6-2.1',
    'Description: lightweight JSON processor',
    ' continued description',
    '',
    'Package: removed-thing',
    'Status: deinstall ok config-files',
    'Version: 1',
    '',
    'Package: adduser',
    'Status: install ok installed',
    'Architecture: all',
    'Version: 3.134',
    '',
  ].join('\n');
  const installed = parseDpkgStatus(status);
  t.same(installed, [
    { name: 'adduser', version: '3.134', architecture: 'all' },
    { name: 'jq', version: '1.6-2.1', architecture: 'amd64' },
  ]);
  t.same(missingPackages(['jq', 'removed-thing', 'adduser=3.134', 'tree'], installed), ['removed-thing', 'tree']);
});

t.test('apt error lines', async (t) => {
  const stderr = [
    'I: installing remaining packages inside the chroot...',
    'Reading package lists...',
    'E: Unable to locate package nosuch',
    'E: setup failed: E: apt-get -o Dir::Bin::dpkg=env --yes install nosuch failed',
    'I: main() received signal PIPE: waiting for setup...',
    'E: mmdebstrap failed to run',
  ].join('\n');
  t.equal(aptErrorSummary(stderr), 'E: Unable to locate package nosuch');
  t.equal(aptErrorSummary('E: mmdebstrap failed to run\n'), null);
  t.equal(aptErrorSummary('all good'), null);

  const failure = new RunError('unshare exited with code 25: E: mmdebstrap failed to run', {
    command: 'unshare',
    args: [...privateNamespaceArgs(), 'mmdebstrap', '--variant=minbase'],
    exitCode: 25,
    signal: null,
    stderr,
    stdout: '',
    reason: 'exit',
  });
  const clearer = withAptMessage(failure);
  t.ok(clearer instanceof RunError);
  t.equal((clearer as RunError).message, 'mmdebstrap failed: E: Unable to locate package nosuch');
  t.equal((clearer as RunError).stderr, stderr, 'the full output stays');
  t.equal((withAptMessage(failure, 'apt-get') as RunError).message, 'apt-get failed: E: Unable to locate package nosuch');
  const cancelled = new RunError('cancelled', { command: 'unshare', args: [], exitCode: null, signal: 'SIGTERM', stderr, stdout: '', reason: 'aborted' });
  t.equal(withAptMessage(cancelled), cancelled, 'a cancel stays a cancel');
});

t.test('namespace wrapper', async (t) => {
  const args = privateNamespaceArgs('/build/root/proc');
  for (const flag of ['--mount', '--pid', '--fork', '--kill-child']) t.ok(args.includes(flag), flag);
  t.equal(args[args.indexOf('--propagation') + 1], 'private');
  t.ok(args.includes('--mount-proc=/build/root/proc'));
  t.equal(args.at(-1), '--');
});

t.test('apt sources: both formats', async (t) => {
  const oneLine = parseOneLineSources(
    [
      '# comment',
      'deb http://deb.example/debian bookworm main contrib # trailing',
      'deb-src http://deb.example/debian bookworm main',
      'deb [arch=amd64 signed-by=/usr/share/keyrings/vendor.gpg] https://vendor.example/apt bookworm main',
      'deb [enabled=no] http://off.example/debian bookworm main',
      'garbage',
    ].join('\n'),
  );
  t.same(oneLine, [
    { types: ['deb'], uris: ['http://deb.example/debian'], suites: ['bookworm'], components: ['main', 'contrib'], enabled: true },
    { types: ['deb-src'], uris: ['http://deb.example/debian'], suites: ['bookworm'], components: ['main'], enabled: true },
    { types: ['deb'], uris: ['https://vendor.example/apt'], suites: ['bookworm'], components: ['main'], enabled: true, signedBy: '/usr/share/keyrings/vendor.gpg' },
    { types: ['deb'], uris: ['http://off.example/debian'], suites: ['bookworm'], components: ['main'], enabled: false },
  ]);

  const deb822 = parseDeb822Sources(
    [
      'Types: deb',
      '# a comment inside the paragraph',
      'URIs: http://mirror.example/debian',
      'Suites: bookworm bookworm-updates',
      'Components: main',
      'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
      '',
      'Types: deb',
      'URIs: http://mirror.example/debian-security',
      'Suites: bookworm-security',
      'Components: main',
      'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
      '',
      'Types: deb',
      'URIs: https://inline.example/apt',
      'Suites: bookworm',
      'Components: main',
      'Signed-By:',
      ' -----BEGIN PGP PUBLIC KEY BLOCK-----',
      ' .',
      ' abc',
      ' -----END PGP PUBLIC KEY BLOCK-----',
      '',
      'Types: deb',
      'URIs: http://disabled.example/debian',
      'Suites: bookworm',
      'Components: main',
      'Enabled: no',
    ].join('\n'),
  );
  t.equal(deb822.length, 4);
  t.same(deb822[0]?.suites, ['bookworm', 'bookworm-updates']);
  t.match(deb822[2]?.signedBy, /BEGIN PGP PUBLIC KEY BLOCK[\s\S]*END PGP/);
  t.equal(deb822[3]?.enabled, false);

  t.same(debianMirrorLines([...deb822, ...oneLine], 'bookworm'), [
    'deb http://mirror.example/debian bookworm main',
    'deb http://deb.example/debian bookworm main',
    'deb http://mirror.example/debian bookworm-updates main',
    'deb http://mirror.example/debian-security bookworm-security main',
  ], 'Debian archives only: third-party and disabled entries are left out');
});

t.test('apt sources: a host on another Debian release lends its mirrors', async (t) => {
  const trixie = parseDeb822Sources(
    [
      'Types: deb',
      'URIs: http://mirror.example/debian',
      'Suites: trixie trixie-updates',
      'Components: main',
      'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
      '',
      'Types: deb',
      'URIs: http://mirror.example/debian-security',
      'Suites: trixie-security',
      'Components: main',
      'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
      '',
      'Types: deb',
      'URIs: https://vendor.example/apt',
      'Suites: nodistro',
      'Components: main',
      'Signed-By: /usr/share/keyrings/vendor.gpg',
    ].join('\n'),
  );
  t.same(debianMirrorLines(trixie, 'bookworm'), [
    'deb http://mirror.example/debian bookworm main',
    'deb http://mirror.example/debian bookworm-updates main',
    'deb http://mirror.example/debian-security bookworm-security main',
  ]);
  const ubuntu = parseOneLineSources('deb http://archive.example/ubuntu noble main restricted\n');
  t.same(debianMirrorLines(ubuntu, 'bookworm'), [], 'no Debian archive: no guess');
  t.same(debianMirrorLines([], 'bookworm'), []);
});

t.test('explicit bootstrap sources are checked', async (t) => {
  t.same(await bootstrapSources(['deb http://m.example/debian bookworm main']), ['deb http://m.example/debian bookworm main']);
  t.same(await bootstrapSources(['  deb [signed-by=/k.gpg] http://m.example/debian bookworm main contrib ']), [
    'deb [signed-by=/k.gpg] http://m.example/debian bookworm main contrib',
  ]);
  await t.rejects(bootstrapSources([]), /no apt sources/);
  await t.rejects(bootstrapSources(['--aptopt=x']), /not an apt source line/);
  await t.rejects(bootstrapSources(['deb http://m.example/debian']), /not an apt source line/);
});

t.test('unit [Install] sections', async (t) => {
  const install = parseUnitInstall(
    [
      '[Unit]',
      'WantedBy=not-this.target',
      '[Install]',
      'WantedBy=multi-user.target',
      'Also=systemd-networkd.socket',
      'Alias=dbus-org.freedesktop.network1.service',
      '# comment',
      'Also=a.service b.service',
      'RequiredBy=x.target',
    ].join('\n'),
  );
  t.same(install, {
    wantedBy: ['multi-user.target'],
    requiredBy: ['x.target'],
    alias: ['dbus-org.freedesktop.network1.service'],
    also: ['systemd-networkd.socket', 'a.service', 'b.service'],
  });
  t.same(parseUnitInstall('[Install]\nWantedBy=a.target\nWantedBy=\nWantedBy=b.target\n').wantedBy, ['b.target'], 'an empty assignment resets');
});

t.test('enableUnit links like systemctl enable', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'banger-units-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const lib = join(root, 'lib', 'systemd', 'system');
  await mkdir(lib, { recursive: true });
  await writeFile(join(lib, 'net.service'), '[Install]\nWantedBy=multi-user.target\nAlias=net-alias.service\nAlso=net.socket\n');
  await writeFile(join(lib, 'net.socket'), '[Install]\nWantedBy=sockets.target\n');
  await writeFile(join(lib, 'serial-getty@.service'), '[Install]\nWantedBy=getty.target\n');
  await writeFile(join(lib, 'loop-a.service'), '[Install]\nAlso=loop-b.service\n');
  await writeFile(join(lib, 'loop-b.service'), '[Install]\nAlso=loop-a.service\nRequiredBy=ssh.service\n');
  await writeFile(join(lib, 'specifier.service'), '[Install]\nWantedBy=foo@%i.target\n');

  await enableUnit(root, 'net.service');
  const etc = join(root, 'etc', 'systemd', 'system');
  t.equal(await readlink(join(etc, 'multi-user.target.wants', 'net.service')), '/lib/systemd/system/net.service');
  t.equal(await readlink(join(etc, 'net-alias.service')), '/lib/systemd/system/net.service');
  t.equal(await readlink(join(etc, 'sockets.target.wants', 'net.socket')), '/lib/systemd/system/net.socket');
  await enableUnit(root, 'net.service');
  t.pass('enabling twice is fine');

  await enableUnit(root, 'serial-getty@ttyS0.service');
  t.equal(await readlink(join(etc, 'getty.target.wants', 'serial-getty@ttyS0.service')), '/lib/systemd/system/serial-getty@.service');

  await enableUnit(root, 'loop-a.service');
  t.equal(await readlink(join(etc, 'ssh.service.requires', 'loop-b.service')), '/lib/systemd/system/loop-b.service', 'Also= cycles end');

  await writeFile(join(etc, 'own.service'), '[Install]\nWantedBy=multi-user.target\n');
  await enableUnit(root, 'own.service');
  t.equal(await readlink(join(etc, 'multi-user.target.wants', 'own.service')), '/etc/systemd/system/own.service', 'units in /etc are found first');

  await t.rejects(enableUnit(root, 'missing.service'), /no unit file/);
  await t.rejects(enableUnit(root, 'specifier.service'), /specifiers/);
});

t.test('writes into a tree never leave it', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'banger-tree-'));
  const outside = await mkdtemp(join(tmpdir(), 'banger-outside-'));
  t.teardown(async () => {
    await rm(root, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });
  await writeTreeFile(root, 'etc/hostname', 'guest\n', 0o600);
  t.equal(await readFile(join(root, 'etc', 'hostname'), 'utf8'), 'guest\n');
  t.equal((await lstat(join(root, 'etc', 'hostname'))).mode & 0o777, 0o600, 'exact mode despite the umask');

  // Replacing a file keeps its owner.
  await writeFile(join(root, 'etc', 'shadow'), 'root:*:1::::::\n');
  await chown(join(root, 'etc', 'shadow'), 0, 42);
  await writeTreeFile(root, 'etc/shadow', 'root:*:2::::::\n', 0o640);
  const shadow = await lstat(join(root, 'etc', 'shadow'));
  t.equal(`${shadow.uid}:${shadow.gid} ${(shadow.mode & 0o777).toString(8)}`, '0:42 640');

  // A symlink at the target is replaced, not written through.
  await writeFile(join(outside, 'victim'), 'host file\n');
  await symlink(join(outside, 'victim'), join(root, 'etc', 'resolv.conf'));
  await writeTreeFile(root, 'etc/resolv.conf', 'nameserver 10.0.2.3\n');
  t.equal(await readFile(join(outside, 'victim'), 'utf8'), 'host file\n');
  t.ok((await lstat(join(root, 'etc', 'resolv.conf'))).isFile());

  // A symlinked directory leading out of the tree is refused.
  await symlink(outside, join(root, 'usr'));
  await t.rejects(writeTreeFile(root, 'usr/local/bin/x', 'x'), /leads outside/);
  t.same(await readdir(outside), ['victim'], 'no directories made outside either');
  await t.rejects(linkInTree(root, 'usr/lib/x', '/y'), /leads outside/);
  await t.rejects(writeTreeFile(root, '../escape', 'x'), /stay inside/);
  await t.rejects(writeTreeFile(root, '/etc/passwd', 'x'), /stay inside/);

  // Relative links inside the tree (merged /usr) are fine.
  await mkdir(join(root, 'real', 'lib'), { recursive: true });
  await symlink('real/lib', join(root, 'lib'));
  await writeTreeFile(root, 'lib/x.conf', 'ok\n');
  t.equal(await readFile(join(root, 'real', 'lib', 'x.conf'), 'utf8'), 'ok\n');
});

t.test('debugfs output parsing', async (t) => {
  t.same(parseLsLine('/353/104755/0/0/chfn/62672/'), { inode: 353, mode: 0o104755, uid: 0, gid: 0, name: 'chfn' });
  t.same(parseLsLine('/326/041777/0/0/.//'), { inode: 326, mode: 0o41777, uid: 0, gid: 0, name: '.' });
  t.same(parseLsLine('/18/020666/0/0/null/0/'), { inode: 18, mode: 0o20666, uid: 0, gid: 0, name: 'null' });
  t.equal(parseLsLine('/1/2/3/'), null);
  t.equal(parseLsLine('debugfs: ls -p /dev'), null);
  t.same(
    splitDebugfsOutput('debugfs: ls -p /a\n/1/040755/0/0/.//\n\ndebugfs: ls -p /b\ndebugfs: stat /c\nInode: 5\n'),
    [['/1/040755/0/0/.//'], [], ['Inode: 5']],
  );
  t.same(parseDeviceNumbers(['Inode: 18   Type: character special', 'Device major/minor number: 01:03 (hex 01:03)']), { major: 1, minor: 3 });
  t.same(parseDeviceNumbers(['Device major/minor number: 10:229 (hex 0a:e5)']), { major: 10, minor: 229 });
  t.equal(parseDeviceNumbers(['Inode: 12']), null);
});
