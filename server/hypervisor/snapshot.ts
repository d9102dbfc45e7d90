import type { HypervisorName } from '../domain/vm.js';

/**
 * Memory snapshots, as the hypervisor driver sees them: files in a directory and the facts a
 * restore must match. Nothing here knows of snapshot rows or jobs.
 */

/** Guest RAM kept in a file instead of anonymous memory. */
export interface GuestMemory {
  file: string;
  /**
   * true: the file is the RAM (writes land in it; a snapshot saves only device state).
   * false: the file is mapped copy-on-write, so clones share its pages until they write.
   */
  shared: boolean;
}

export interface SnapshotSpec {
  /** An empty directory the snapshot's files go into. */
  dir: string;
  /** The VM's current disks: they become frozen layers in dir. */
  rootDisk: string;
  workDisk: string;
  /** resume: the VM goes on, on new layers above the frozen ones; stop: it ends. */
  after: 'resume' | 'stop';
  /** With after='resume': where the new top layers go (qcow2 files the driver creates over the frozen layers). */
  continueOn?: { rootDisk: string; workDisk: string };
  /** The VM's RAM file, when it was launched with shared file memory; the snapshot then keeps RAM as a file. */
  memory?: GuestMemory;
}

/** The steps of a snapshot, in order, as the driver reaches them (resume or stop, never both). */
export type SnapshotStep = 'pause' | 'save_state' | 'freeze_disks' | 'resume' | 'stop';

export interface SnapshotOptions {
  signal?: AbortSignal;
  onStep?: (step: SnapshotStep) => void;
}

export interface SnapshotCompatibility {
  hypervisor: HypervisorName;
  /** e.g. "QEMU emulator version 7.2.19 (Debian 1:7.2+dfsg-7+deb12u18)". */
  binaryVersion: string;
  machine: string;
  cpus: number;
  memoryMiB: number;
  /** Whether the source had the guest shell port; a restore gets the same devices. Absent on snapshots made before it existed. */
  guestShell?: boolean;
}

export interface SnapshotArtifacts {
  /** Device state, and guest memory too when memoryFile is null. */
  stateFile: string;
  /** Guest RAM as a file that clones map copy-on-write; null when it is inside stateFile. */
  memoryFile: string | null;
  /** The frozen disks; clones get layers above them. */
  rootLayer: string;
  workLayer: string;
  compatibility: SnapshotCompatibility;
  /** Bytes the snapshot's files take on disk. */
  sizeBytes: number;
}

export interface MemoryUsage {
  /** Resident set of the hypervisor process. */
  rssBytes: number;
  /** The part of rssBytes that is guest RAM; the rest is the hypervisor's own overhead. */
  guestRamRssBytes: number;
}

export class SnapshotIncompatibleError extends Error {
  constructor(readonly mismatches: Array<{ field: keyof SnapshotCompatibility; snapshot: unknown; wanted: unknown }>) {
    super(`the snapshot does not fit: ${mismatches.map((m) => `${m.field} is ${JSON.stringify(m.snapshot)} in the snapshot, ${JSON.stringify(m.wanted)} here`).join('; ')}`);
    this.name = 'SnapshotIncompatibleError';
  }
}

/** Every way the running side differs from what the snapshot was taken with; empty when it fits. */
export function compatibilityMismatches(snapshot: SnapshotCompatibility, wanted: SnapshotCompatibility): SnapshotIncompatibleError['mismatches'] {
  const fields: Array<keyof SnapshotCompatibility> = ['hypervisor', 'binaryVersion', 'machine', 'cpus', 'memoryMiB'];
  return fields.filter((field) => snapshot[field] !== wanted[field]).map((field) => ({ field, snapshot: snapshot[field], wanted: wanted[field] }));
}
