import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { diskFormat } from './boot-args.js';
import { createQcow2Overlay, frozenLayerName, type DiskDevice } from './disk-layers.js';
import type { QmpClient } from './qmp-client.js';
import type { UndoStack } from './undo-stack.js';

/**
 * A snapshot's disks: the VM's current disk files move into the snapshot dir, where nothing
 * writes to them again, and a VM that goes on gets new qcow2 layers over them.
 *
 * QEMU's block nodes remember the path each file was opened by, and QEMU opens that path again
 * whenever a node's file has to change between read-only and read-write: -drive nodes have
 * auto-read-only=on, so the migration that saves the state (it inactivates every disk) and the
 * `cont` after it (it activates them) both switch the top layer's file, and
 * blockdev-snapshot-sync reopens the old top read-only once the new layer is on it. Once a file
 * has been moved, that path names another file or none, and measured on QEMU 7.2:
 *   - moved before the migration: the migration ends `failed` with no error-desc, and stderr
 *     says "qemu_savevm_state_complete_precopy_non_iterable: bdrv_inactivate_all() failed (-1)";
 *   - moved, new layer created at the old path, blockdev-snapshot-sync, then migration: the old
 *     top's node reopens the new layer's file, `cont` fails with 'Failed to get "write" lock'
 *     (two nodes on one file), and without a migration in between the guest silently reads the
 *     wrong file (a file's md5 changed after the snapshot).
 * So the order is: save the state first (its inactivation leaves the top read-only while its
 * path is still right), then move the files and put the new layers on (the old top is read-only
 * already, so nothing is reopened), then `cont` (only the new layers, at their true paths, go
 * read-write). Frozen layers never change mode again, so their stale paths are never reopened.
 */

export interface FrozenDisk {
  device: DiskDevice;
  /** The VM's disk as the caller names it. */
  path: string;
  format: 'qcow2' | 'raw';
  virtualSize: number;
  /** Where the file goes in the snapshot dir. */
  frozen: string;
  /** The VM's new top layer, over frozen. */
  next: string;
}

interface QueryBlockDevice {
  device: string;
  inserted?: { file: string; drv: string; image: { 'virtual-size': number } };
}

/**
 * The file under a device's top node: query-block names the node by a json: description once
 * its backing file's recorded path and the one it was opened by differ, as after a snapshot.
 */
function topFile(name: string): string {
  if (!name.startsWith('json:')) return name;
  const description = JSON.parse(name.slice('json:'.length)) as { file?: { filename?: unknown } };
  return typeof description.file?.filename === 'string' ? description.file.filename : name;
}

export interface DiskToFreeze {
  device: DiskDevice;
  path: string;
  /** The new top layer's path, for a VM that goes on; named .qcow2 (see nextLayerPath). */
  next: string;
}

/** Checks that the VM runs on the disks the caller named, before anything is stopped or moved. */
export async function inspectDisks(client: QmpClient, disks: DiskToFreeze[], dir: string): Promise<FrozenDisk[]> {
  const devices = await client.execute<QueryBlockDevice[]>('query-block');
  return disks.map(({ device, path, next }) => {
    const inserted = devices.find((entry) => entry.device === device)?.inserted;
    if (inserted === undefined) throw new Error(`the VM has no ${device} disk`);
    if (resolve(topFile(inserted.file)) !== resolve(path)) throw new Error(`the VM's ${device} disk is ${topFile(inserted.file)}, not ${path}`);
    if (inserted.drv !== 'qcow2' && inserted.drv !== 'raw') throw new Error(`the VM's ${device} disk is ${inserted.drv}, neither qcow2 nor raw`);
    if (diskFormat(next) !== 'qcow2') throw new Error(`the ${device} disk's new layer is qcow2 and must be named so: ${next}`);
    if (resolve(next) !== resolve(path) && existsSync(next)) throw new Error(`${next} is in the way of the ${device} disk's new layer`);
    return { device, path, format: inserted.drv, virtualSize: inserted.image['virtual-size'], frozen: join(dir, frozenLayerName(device, inserted.drv)), next };
  });
}

/** Moves the disk files into the snapshot dir. Only after the state is saved (see above). */
export async function moveDisks(disks: FrozenDisk[], undo: UndoStack): Promise<void> {
  for (const disk of disks) {
    await rename(disk.path, disk.frozen);
    undo.push(`move ${disk.frozen} back`, () => rename(disk.frozen, disk.path));
  }
}

export async function createNextLayers(disks: FrozenDisk[], undo: UndoStack, signal?: AbortSignal): Promise<void> {
  for (const disk of disks) {
    // -u: the frozen file is not opened, so this holds no lock and reads nothing.
    await createQcow2Overlay(disk.next, disk.frozen, disk.format, { virtualSize: disk.virtualSize, signal });
    undo.push(`remove ${disk.next}`, () => rm(disk.next, { force: true }));
  }
}

/**
 * Puts every disk's new layer on top, all or none (one QMP transaction). mode=existing: QEMU
 * opens the layer without its backing file and puts it over the node it replaces, so the file
 * recorded in the layer's header (the frozen path) only matters to later boots and clones.
 */
export async function switchToNextLayers(client: QmpClient, disks: FrozenDisk[]): Promise<void> {
  const actions = disks.map((disk) => ({
    type: 'blockdev-snapshot-sync',
    data: { device: disk.device, 'snapshot-file': disk.next, format: 'qcow2', mode: 'existing' },
  }));
  await client.execute('transaction', { actions }, { timeoutMs: 30_000 });
}
