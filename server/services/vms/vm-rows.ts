import { join } from 'node:path';
import type { VmRow } from '../../db/repositories/vms.js';
import type { ImageRow } from '../../db/repositories/images.js';
import type { HypervisorName } from '../../domain/vm.js';
import { newId, now } from '../ids.js';
import type { PortRequest } from './port-allocator.js';
import type { CreatePlan } from './vm-create-plan.js';
import type { CreateVmInput } from './vm-request.js';
import { sshGuestPort } from './vm-view.js';

export interface NewVmRow {
  name: string;
  plan: CreatePlan;
  input: Pick<CreateVmInput, 'labels' | 'ttlSeconds'>;
  defaultHypervisor: HypervisorName;
  vmsDir: string;
  /** Guest RAM in a file in the VM's dir, shared with QEMU: snapshots of it then save no RAM. */
  memoryFile: boolean;
}

/** The row of a VM being created: `creating`, on the snapshot's hypervisor when it restores one. */
export function newVmRow({ name, plan, input, defaultHypervisor, vmsDir, memoryFile }: NewVmRow): VmRow {
  const id = newId();
  const timestamp = now();
  return {
    id,
    name,
    imageId: plan.image.id,
    state: 'creating',
    stateReason: null,
    stateMessage: null,
    stateChangedAt: timestamp,
    cpus: plan.cpus,
    memoryMib: plan.memoryMiB,
    workDiskBytes: plan.workDiskBytes,
    hypervisor: plan.snapshot?.artifacts?.compatibility.hypervisor ?? defaultHypervisor,
    accel: null,
    vmDir: null,
    process: null,
    consoleLog: null,
    disks: null,
    memoryFile: memoryFile ? join(vmsDir, id, 'memory.ram') : null,
    baseSnapshotId: plan.snapshot?.id ?? null,
    bootMode: null,
    labels: input.labels ?? {},
    ttlSeconds: input.ttlSeconds ?? null,
    expiresAt: input.ttlSeconds === undefined ? null : new Date(Date.parse(timestamp) + input.ttlSeconds * 1000).toISOString(),
    timings: null,
    bootedAt: null,
    createdAt: timestamp,
    updatedAt: timestamp,
  };
}

/** SSH (22) is always published, and waited for only when asked for; every other requested port and every service port of the image is waited for. */
export function portRequestsFor(requested: number[], image: Pick<ImageRow, 'services'>): PortRequest[] {
  const servicePorts = image.services.flatMap((service) => (service.port === null ? [] : [service.port]));
  const waited = [...new Set([...requested, ...servicePorts])].filter((port) => port !== sshGuestPort);
  return [{ guestPort: sshGuestPort, wait: requested.includes(sshGuestPort) }, ...waited.map((guestPort) => ({ guestPort, wait: true }))];
}
