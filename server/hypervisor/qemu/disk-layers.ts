import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { run } from '../../host/runner.js';
import type { SnapshotArtifacts } from '../snapshot.js';
import { diskFormat } from './boot-args.js';
import { qemuRootDiskPath } from './root-disk.js';

/**
 * qcow2 layers over frozen disks: the new top a VM goes on writing to after a snapshot, and the
 * disks of a VM restored from one. Creating a layer reads nothing of what lies below beyond
 * headers, so it costs the same for any disk size.
 */

const OVERLAY_TIMEOUT_MS = 60 * 1000;

export type DiskDevice = 'root' | 'work';

/** A frozen disk's name in a snapshot dir: its device and the format QEMU used it with. */
export function frozenLayerName(device: DiskDevice, format: 'qcow2' | 'raw'): string {
  return `${device}.${format}`;
}

/**
 * Where a disk's new top layer goes: the same path for a qcow2 disk, the same name with
 * .qcow2 for a raw one, because a disk's format is read from its name (diskFormat), never
 * probed: a qcow2 layer named work.ext4 would be handed to the guest as raw bytes.
 */
export function nextLayerPath(disk: string): string {
  if (diskFormat(disk) === 'qcow2') return disk;
  const slash = disk.lastIndexOf('/');
  const dot = disk.lastIndexOf('.');
  return `${dot > slash + 1 ? disk.slice(0, dot) : disk}.qcow2`;
}

export interface OverlayOptions {
  /**
   * Bytes; given, the backing file is not opened (qemu-img's -u), for a backing file that a
   * running QEMU holds or that has just been moved.
   */
  virtualSize?: number;
  signal?: AbortSignal;
}

/** The backing path is made absolute: qemu-img would record a relative one relative to the overlay's dir. */
export async function createQcow2Overlay(overlay: string, backing: string, backingFormat: 'qcow2' | 'raw', options: OverlayOptions = {}): Promise<void> {
  const args = ['create', '-q', '-f', 'qcow2', '-F', backingFormat, '-b', resolve(backing)];
  if (options.virtualSize !== undefined) args.push('-u', overlay, String(options.virtualSize));
  else args.push(overlay);
  try {
    await run('qemu-img', args, { timeoutMs: OVERLAY_TIMEOUT_MS, signal: options.signal });
  } catch (error) {
    await rm(overlay, { force: true });
    throw error;
  }
}

/** New disks for a VM restored from a snapshot, named .qcow2 (see nextLayerPath). */
export async function cloneSnapshotDisks(snapshot: SnapshotArtifacts, vmDir: string, options: { signal?: AbortSignal } = {}): Promise<{ rootDisk: string; workDisk: string }> {
  const rootDisk = qemuRootDiskPath(vmDir);
  const workDisk = join(vmDir, 'work.qcow2');
  // Both at once: each qemu-img is a process start, the larger part of a restore's clone_disks.
  const made = await Promise.allSettled([
    createQcow2Overlay(rootDisk, snapshot.rootLayer, diskFormat(snapshot.rootLayer), { signal: options.signal }),
    createQcow2Overlay(workDisk, snapshot.workLayer, diskFormat(snapshot.workLayer), { signal: options.signal }),
  ]);
  const failed = made.find((result) => result.status === 'rejected');
  if (failed) {
    await Promise.all([rm(rootDisk, { force: true }), rm(workDisk, { force: true })]);
    throw failed.reason;
  }
  return { rootDisk, workDisk };
}
