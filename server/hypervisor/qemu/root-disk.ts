import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { run } from '../../host/runner.js';

const OVERLAY_TIMEOUT_MS = 60 * 1000;

export function qemuRootDiskPath(vmDir: string): string {
  return join(vmDir, 'root.qcow2');
}

/**
 * A qcow2 copy-on-write disk over the image's raw rootfs: the VM writes only into the
 * overlay, and creating it reads nothing of the base beyond its size, so it costs the
 * same for any base size. The base path is made absolute because qemu-img would record
 * a relative one relative to the overlay's directory.
 */
export async function createQemuRootDisk(imageRootfs: string, vmDir: string, options: { signal?: AbortSignal } = {}): Promise<string> {
  const overlay = qemuRootDiskPath(vmDir);
  try {
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', resolve(imageRootfs), overlay], {
      timeoutMs: OVERLAY_TIMEOUT_MS,
      signal: options.signal,
    });
  } catch (error) {
    await rm(overlay, { force: true });
    throw error;
  }
  return overlay;
}
