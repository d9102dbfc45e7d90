import t from 'tap';
import { parseDeviceNumbers, parseLsLine, splitDebugfsOutput } from '../../server/guest/base-rootfs.js';

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
