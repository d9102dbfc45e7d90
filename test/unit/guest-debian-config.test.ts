import { readFile } from 'node:fs/promises';
import t from 'tap';
import { fstabContent, hostsContent, lockRootPassword, sshdIncludesDropIns, withDropInsFirst } from '../../server/guest/debian/config-files.js';
import { debianGuestFiles } from '../../server/guest/debian/guest-spec.js';

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
  t.same(hostKeys, ['HostKey /etc/ssh/ssh_host_ed25519_key'], 'the key banger-ssh-hostkeys makes');
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
  t.same(agent.get('Service')?.get('ExecStart'), ['/bin/bash /usr/local/bin/banger-agent'], 'under bash, whose read -t naps without a process');
  t.same(agent.get('Service')?.get('Restart'), ['always']);
  t.same(agent.get('Install')?.get('WantedBy'), ['multi-user.target']);
  const keys = unitSections(await readFile(debianGuestFiles.sshHostKeysUnit, 'utf8'));
  t.same(keys.get('Unit')?.get('Before'), ['ssh.service']);
  t.same(keys.get('Service')?.get('Type'), ['oneshot']);
  const keygen = keys.get('Service')?.get('ExecStart') ?? [];
  t.equal(keygen.length, 1);
  t.match(keygen[0], /-t ed25519\b/, 'makes an Ed25519 key');
  t.notMatch(keygen[0], /rsa|ecdsa/, 'no other: RSA is too slow to make under TCG, and one key is enough');
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
