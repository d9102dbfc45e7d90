// What a host file's first bytes must be for each kind, and where a path may lie.
import t from 'tap';
import { isInside, kindProblem, pseudoFilesystemDirOf } from '../../server/host/file-kind.js';

const withBytes = (length: number, bytes: Record<number, number[] | string>): Buffer => {
  const buffer = Buffer.alloc(length);
  for (const [offset, value] of Object.entries(bytes)) {
    if (typeof value === 'string') buffer.write(value, Number(offset), 'latin1');
    else Buffer.from(value).copy(buffer, Number(offset));
  }
  return buffer;
};

t.test('ext4: the superblock magic at 1080', async (t) => {
  t.equal(kindProblem(withBytes(2048, { 1080: [0x53, 0xef] }), 'ext4'), null);
  t.match(kindProblem(withBytes(2048, {}), 'ext4'), /not an ext4 filesystem image/);
  t.match(kindProblem(withBytes(1081, { 1080: [0x53] }), 'ext4'), /not an ext4/, 'a file that ends inside the magic');
  t.match(kindProblem(Buffer.from('root:*:19000:0:99999:7:::\n'), 'ext4'), /not an ext4/);
});

t.test('kernel: a bzImage (0x55AA and HdrS) or an x86 ELF executable', async (t) => {
  t.equal(kindProblem(withBytes(1024, { 0x1fe: [0x55, 0xaa], 0x202: 'HdrS' }), 'kernel'), null, 'bzImage');
  t.match(kindProblem(withBytes(1024, { 0x202: 'HdrS' }), 'kernel'), /not a Linux kernel image/, 'no boot sector signature');
  t.match(kindProblem(withBytes(1024, { 0x1fe: [0x55, 0xaa] }), 'kernel'), /not a Linux kernel image/, 'no setup header');
  const elf = (type: number, machine: number) => withBytes(64, { 0: '\x7fELF', 4: [2, 1, 1], 16: [type, 0, machine, 0] });
  t.equal(kindProblem(elf(2, 0x3e), 'kernel'), null, 'x86-64 vmlinux');
  t.equal(kindProblem(elf(2, 3), 'kernel'), null, 'i386 vmlinux');
  t.match(kindProblem(elf(3, 0x3e), 'kernel'), /not a Linux kernel/, 'a shared object (a PIE program)');
  t.match(kindProblem(elf(2, 0xb7), 'kernel'), /not a Linux kernel/, 'an arm64 executable');
  t.match(kindProblem(Buffer.from('#!/bin/sh\n'), 'kernel'), /not a Linux kernel/);
});

t.test('initrd: cpio or a compressed archive', async (t) => {
  const good: Record<string, number[] | string> = {
    'cpio newc': '070701',
    'cpio crc': '070702',
    gzip: [0x1f, 0x8b, 0x08],
    zstd: [0x28, 0xb5, 0x2f, 0xfd],
    xz: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00],
    'lz4 legacy': [0x02, 0x21, 0x4c, 0x18],
    lz4: [0x04, 0x22, 0x4d, 0x18],
    bzip2: 'BZh9',
    lzma: [0x5d, 0x00, 0x00, 0x80],
    lzo: [0x89, 0x4c, 0x5a, 0x4f],
  };
  for (const [name, magic] of Object.entries(good)) t.equal(kindProblem(withBytes(512, { 0: magic }), 'initrd'), null, name);
  t.match(kindProblem(withBytes(512, { 0: '070707' }), 'initrd'), /not an initrd/, 'the old portable (odc) cpio format, which the kernel does not unpack');
  t.match(kindProblem(Buffer.alloc(512, 0x5a), 'initrd'), /not an initrd/);
  t.match(kindProblem(Buffer.alloc(0), 'initrd'), /not an initrd/, 'an empty file');
});

t.test('pseudo filesystems and roots are matched by whole path segments', async (t) => {
  t.equal(pseudoFilesystemDirOf('/proc/self/environ'), '/proc');
  t.equal(pseudoFilesystemDirOf('/proc'), '/proc');
  t.equal(pseudoFilesystemDirOf('/dev/shm/x'), '/dev');
  t.equal(pseudoFilesystemDirOf('/sys/kernel/notes'), '/sys');
  t.equal(pseudoFilesystemDirOf('/process/x'), undefined);
  t.equal(pseudoFilesystemDirOf('/srv/dev/x'), undefined);
  t.ok(isInside('/srv/images/a.ext4', '/srv/images'));
  t.ok(isInside('/srv/images', '/srv/images'));
  t.notOk(isInside('/srv/images-old/a.ext4', '/srv/images'));
  t.notOk(isInside('/srv', '/srv/images'));
});
