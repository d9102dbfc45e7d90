import type { SnapshotRow } from '../../db/repositories/snapshots.js';
import { clipText, maxMessageLength } from '../../domain/limits.js';
import { maxHypervisorVersionLength, maxListedDependents } from '../../domain/snapshot.js';
import type { Snapshot } from '../../schemas/snapshot.js';

export type { Snapshot } from '../../schemas/snapshot.js';

export interface SnapshotViewContext {
  imageName: string | null;
  baseName: string | null;
  dependents: { vms: Array<{ id: string; name: string }>; snapshots: Array<{ id: string; name: string }> };
}

const link = (collection: string) => (item: { id: string; name: string }) => ({ ...item, href: `/${collection}/${item.id}` });

export function snapshotView(row: SnapshotRow, context: SnapshotViewContext): Snapshot {
  const compatibility = row.artifacts?.compatibility;
  return {
    id: row.id,
    name: row.name,
    purpose: row.purpose,
    state: row.state,
    stateMessage: row.stateMessage === null ? null : clipText(row.stateMessage, maxMessageLength),
    sourceVm: { id: row.sourceVmId, name: row.sourceVmName, href: row.sourceVmId === null ? null : `/vms/${row.sourceVmId}` },
    image: { id: row.imageId, name: context.imageName, href: `/images/${row.imageId}` },
    baseSnapshot: row.baseSnapshotId === null ? null : link('snapshots')({ id: row.baseSnapshotId, name: context.baseName ?? row.baseSnapshotId }),
    cpus: row.cpus,
    memoryMiB: row.memoryMib,
    memory: row.artifacts?.memoryFile ? 'file' : 'state',
    hypervisor: compatibility?.hypervisor ?? 'qemu',
    hypervisorVersion: clipText(compatibility?.binaryVersion ?? '', maxHypervisorVersionLength),
    machine: clipText(compatibility?.machine ?? '', 64),
    sizeBytes: row.sizeBytes,
    dependents: {
      vms: context.dependents.vms.slice(0, maxListedDependents).map(link('vms')),
      snapshots: context.dependents.snapshots.slice(0, maxListedDependents).map(link('snapshots')),
    },
    createdAt: row.createdAt,
    href: `/snapshots/${row.id}`,
  };
}
