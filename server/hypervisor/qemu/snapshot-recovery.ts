import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { SnapshotSpec } from '../snapshot.js';
import { frozenLayerName, type DiskDevice } from './disk-layers.js';
import { SNAPSHOT_MEMORY_FILE } from './qemu-snapshot.js';

/**
 * After a daemon crash in the middle of a snapshot (the VM's process already stopped): either the
 * VM's new layers over the frozen disks both exist, and it goes on from them ('went-on': their
 * content is what it had, whether QEMU had switched to them or not), or the disks and RAM file
 * that had been moved into the snapshot dir go back where the VM keeps them ('rolled-back').
 */
export async function settleQemuSnapshot(spec: SnapshotSpec): Promise<'went-on' | 'rolled-back'> {
  const { continueOn } = spec;
  if (continueOn && existsSync(continueOn.rootDisk) && existsSync(continueOn.workDisk)) return 'went-on';
  if (continueOn) await Promise.all([rm(continueOn.rootDisk, { force: true }), rm(continueOn.workDisk, { force: true })]);
  const moved: Array<[string, string]> = [];
  for (const [device, path] of [['root', spec.rootDisk], ['work', spec.workDisk]] as Array<[DiskDevice, string]>) {
    for (const format of ['qcow2', 'raw'] as const) moved.push([join(spec.dir, frozenLayerName(device, format)), path]);
  }
  if (spec.memory) moved.push([join(spec.dir, SNAPSHOT_MEMORY_FILE), spec.memory.file]);
  for (const [from, to] of moved) {
    if (existsSync(from) && !existsSync(to)) await rename(from, to);
  }
  return 'rolled-back';
}
