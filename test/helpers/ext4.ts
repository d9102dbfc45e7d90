import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A real, sparse ext4 image made with mkfs.ext4 (no mount). */
export function makeExt4Image(path: string, size = '64M'): string {
  execFileSync('truncate', ['-s', size, path]);
  execFileSync('mkfs.ext4', ['-q', '-F', path]);
  return path;
}

/** A stand-in kernel file: registration only checks that a regular file is there. */
export function makeKernelFile(dir: string): string {
  const path = join(dir, 'vmlinuz');
  writeFileSync(path, 'not a real kernel: registration only records the path\n');
  return path;
}
