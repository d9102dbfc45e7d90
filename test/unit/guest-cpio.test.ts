import t from 'tap';
import { decodeCpio, encodeCpio, normalizeCpioPath } from '../../server/host/cpio.js';

t.test('newc header layout for one file', async (t) => {
  const archive = encodeCpio([{ type: 'file', path: '/etc/x', data: 'hi', mode: 0o640 }]);
  const text = archive.toString('latin1');
  // 110-byte header: magic, then 13 eight-digit hex fields.
  const expectedHeader =
    '070701' +
    '00000001' + // ino
    '000081a0' + // S_IFREG | 0640
    '00000000' + // uid
    '00000000' + // gid
    '00000001' + // nlink
    '00000000' + // mtime
    '00000002' + // filesize
    '00000000' + '00000000' + // dev major/minor
    '00000000' + '00000000' + // rdev major/minor
    '00000006' + // namesize: "etc/x" + NUL
    '00000000'; // check
  t.equal(text.slice(0, 110), expectedHeader);
  // name + NUL padded so that header+name is a multiple of 4 (110 + 6 = 116).
  t.equal(text.slice(110, 116), 'etc/x\0');
  t.equal(text.slice(116, 118), 'hi');
  t.equal(text.slice(118, 120), '\0\0', 'data padded to 4 bytes');
  t.equal(text.slice(120, 126), '070701', 'next header aligned');
  t.match(text, /TRAILER!!!\0/);
  t.equal(archive.length % 4, 0);
});

t.test('round trip of every entry type', async (t) => {
  const archive = encodeCpio([
    { type: 'dir', path: 'bin' },
    { type: 'file', path: 'bin/busybox', data: Buffer.from([0, 1, 2, 3, 4]), mode: 0o755 },
    { type: 'symlink', path: 'bin/sh', target: '/bin/busybox' },
    { type: 'dir', path: 'dev' },
    { type: 'char', path: 'dev/console', major: 5, minor: 1 },
    { type: 'block', path: 'dev/vda', major: 254, minor: 0, mode: 0o660 },
    { type: 'dir', path: 'tmp', mode: 0o1777 },
  ]);
  const entries = decodeCpio(archive);
  t.same(
    entries.map((entry) => [entry.name, entry.mode.toString(8), entry.rdevMajor, entry.rdevMinor, entry.data.toString('latin1')]),
    [
      ['bin', '40755', 0, 0, ''],
      ['bin/busybox', '100755', 0, 0, '\0\x01\x02\x03\x04'],
      ['bin/sh', '120777', 0, 0, '/bin/busybox'],
      ['dev', '40755', 0, 0, ''],
      ['dev/console', '20600', 5, 1, ''],
      ['dev/vda', '60660', 254, 0, ''],
      ['tmp', '41777', 0, 0, ''],
    ],
  );
});

t.test('same input, same bytes', async (t) => {
  const entries = [{ type: 'file' as const, path: 'init', data: '#!/bin/sh\n', mode: 0o755 }];
  t.same(encodeCpio(entries), encodeCpio(entries));
});

t.test('path checks', async (t) => {
  t.equal(normalizeCpioPath('/a//b/./c/'), 'a/b/c');
  t.throws(() => normalizeCpioPath('a/../b'), /\.\./);
  t.throws(() => encodeCpio([{ type: 'dir', path: 'a' }, { type: 'dir', path: '/a/' }]), /duplicate/);
  t.throws(() => decodeCpio(Buffer.from('nonsense'.repeat(20))), /magic/);
  t.throws(() => decodeCpio(encodeCpio([]).subarray(0, 50)), /truncated/);
});
