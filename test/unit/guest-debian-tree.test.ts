import { chown, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { enableUnit, parseUnitInstall } from '../../server/guest/debian/systemd-units.js';
import { linkInTree, writeTreeFile } from '../../server/guest/debian/tree-files.js';

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
