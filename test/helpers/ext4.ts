import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** A real, sparse ext4 image made with mkfs.ext4 (no mount). */
export function makeExt4Image(path: string, size = '64M'): string {
  execFileSync('truncate', ['-s', size, path]);
  execFileSync('mkfs.ext4', ['-q', '-F', path]);
  return path;
}

/**
 * A stand-in kernel: shaped like a bzImage (the boot sector's 0x55AA and the setup header's "HdrS"),
 * which is all registration checks, but nothing that boots. Its boot protocol version is 0, so QEMU
 * refuses it with an initrd ("linux kernel too old to load a ram disk").
 */
export function makeKernelFile(dir: string, name = 'vmlinuz'): string {
  const path = join(dir, name);
  const image = Buffer.alloc(4096);
  image[0x1fe] = 0x55;
  image[0x1ff] = 0xaa;
  image.write('HdrS', 0x202, 'latin1');
  image.write('not a real kernel: registration only checks its header\n', 0x400, 'latin1');
  writeFileSync(path, image);
  return path;
}

/** A stand-in initrd: an empty newc cpio archive (just its trailer), which the kernel would unpack to nothing. */
export function makeInitrdFile(path: string): string {
  const name = 'TRAILER!!!\0';
  // ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
  const fields = [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, name.length, 0].map((value) => value.toString(16).padStart(8, '0'));
  writeFileSync(path, `070701${fields.join('')}${name}`.padEnd(512, '\0'));
  return path;
}

/** A stand-in lib/modules/<version>: a directory with an empty modules.dep. */
export function makeModulesDir(path: string): string {
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, 'modules.dep'), '');
  return path;
}

/**
 * Puts the ext2/3/4 superblock magic into a file of other data, so that registration takes it as a
 * rootfs: for tests that only copy it (a promote full of real data), never mount or boot it.
 */
export function stampExt4Magic(path: string): string {
  const handle = openSync(path, 'r+');
  try {
    writeSync(handle, Buffer.from([0x53, 0xef]), 0, 2, 1024 + 56);
  } finally {
    closeSync(handle);
  }
  return path;
}
