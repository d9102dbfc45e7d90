import { rm, stat, truncate } from 'node:fs/promises';
import { copyFilePreferClone } from './copy.js';
import { run, type LogSink } from './runner.js';

/** The per-VM work disk made from an image's work seed; the seed is only ever read. The root disk is the hypervisor driver's. */

export interface DiskOptions {
  signal?: AbortSignal;
  log?: LogSink;
}

export class DiskSizeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DiskSizeError';
  }
}

// Both walk every group descriptor and inode table of the filesystem: minutes for
// large disks on slow storage. Cancellation goes through the signal.
const FSCK_TIMEOUT_MS = 30 * 60 * 1000;
const RESIZE_TIMEOUT_MS = 30 * 60 * 1000;
// e2fsck: 0 nothing to fix, 1 fixed something (e.g. the free counts after a copy).
const E2FSCK_FIXED = 1;
// e2fsprogs messages are matched by nobody, but logs read better untranslated.
const e2fsEnv = (): NodeJS.ProcessEnv => ({ ...process.env, LC_ALL: 'C' });

/**
 * The VM's own work disk: a copy of the image's work seed (an ext4 filesystem)
 * grown to sizeBytes. The copy stays sparse, so only what the seed holds is
 * written whatever the final size. A failed attempt leaves no target behind.
 */
export async function createWorkDisk(workSeed: string, target: string, sizeBytes: number, options: DiskOptions = {}): Promise<void> {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) throw new DiskSizeError(`invalid work disk size: ${sizeBytes}`);
  const seedBytes = (await stat(workSeed)).size;
  if (sizeBytes < seedBytes) {
    // resize2fs could shrink it, but only by moving data; the seed's size is the
    // image's promise of room for what it carries.
    throw new DiskSizeError(`work disk size ${sizeBytes} bytes is smaller than the image's work seed (${seedBytes} bytes); it can only be grown`);
  }
  const { signal, log } = options;
  try {
    await copyFilePreferClone(workSeed, target, { signal, log });
    if (sizeBytes === seedBytes) return;
    // Extending a file adds a hole, not written zeroes.
    await truncate(target, sizeBytes);
    // resize2fs refuses a filesystem that was not checked since its last mount.
    await run('e2fsck', ['-f', '-y', target], { env: e2fsEnv(), timeoutMs: FSCK_TIMEOUT_MS, signal, log, allowExitCodes: [E2FSCK_FIXED] });
    // A bare number would be read as filesystem blocks; resize2fs rounds K down to whole blocks.
    await run('resize2fs', [target, `${Math.floor(sizeBytes / 1024)}K`], { env: e2fsEnv(), timeoutMs: RESIZE_TIMEOUT_MS, signal, log });
  } catch (error) {
    await rm(target, { force: true });
    throw error;
  }
}
