import type { Static } from '@sinclair/typebox';
import type { VmPortRow, VmRow } from '../../db/repositories/vms.js';
import { clipText, maxMessageLength } from '../../domain/limits.js';
import { sshGuestPort, type VmState } from '../../domain/vm.js';
import type { VmPortSchema, VmServiceSchema, VmSchema, VmSshSchema, VmStateReasonSchema } from '../../schemas/vm.js';
import { formatSize } from '../../domain/byte-size.js';

// Re-exported so the VM modules keep taking all their view types from this one place.
export type { VmState };

/** Where published ports listen on the host: a forward is never opened to the network. */
export const hostAddress = '127.0.0.1';
export { sshGuestPort } from '../../domain/vm.js';
export const sshUser = 'root';

export type VmPort = Static<typeof VmPortSchema>;
export type VmService = Static<typeof VmServiceSchema>;
export type VmSsh = Static<typeof VmSshSchema>;
export type VmStateReason = Static<typeof VmStateReasonSchema>;
/** The VM as clients see it. */
export type Vm = Static<typeof VmSchema>;

const liveStates: readonly VmState[] = ['creating', 'starting', 'running', 'paused', 'stopping', 'deleting'];

export interface VmViewParts {
  imageName: string | null;
  ports: VmPortRow[];
  services: VmService[];
  sshPrivateKeyPath: string;
}

export function vmView(row: VmRow, { imageName, ports, services, sshPrivateKeyPath }: VmViewParts): Vm {
  const published = ports
    .map((port) => ({ guestPort: port.guestPort, hostPort: port.hostPort, hostAddress, wait: port.wait }))
    .sort((a, b) => a.guestPort - b.guestPort);
  const sshPort = published.find((port) => port.guestPort === sshGuestPort);
  return {
    id: row.id,
    name: row.name,
    state: row.state,
    stateReason: row.stateReason ? { code: row.stateReason, message: clipText(row.stateMessage ?? '', maxMessageLength), at: row.stateChangedAt } : null,
    image: { id: row.imageId, name: imageName, href: `/images/${row.imageId}` },
    cpus: row.cpus,
    memoryMiB: row.memoryMib,
    workDiskSize: formatSize(row.workDiskBytes),
    workDiskBytes: row.workDiskBytes,
    hypervisor: row.hypervisor,
    accel: row.accel,
    pid: row.process && liveStates.includes(row.state) ? row.process.pid : null,
    ports: published,
    ssh: sshPort ? sshBlock(sshPort.hostPort, sshPrivateKeyPath) : null,
    services,
    labels: row.labels,
    ttlSeconds: row.ttlSeconds,
    expiresAt: row.expiresAt,
    timings: row.timings ?? null,
    bootedAt: row.bootedAt,
    bootMode: row.bootMode,
    baseSnapshot: row.baseSnapshotId === null ? null : { id: row.baseSnapshotId, href: `/snapshots/${row.baseSnapshotId}` },
    hostOverheadBytes: null,
    dir: row.vmDir,
    consoleLogPath: row.consoleLog,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    href: `/vms/${row.id}`,
  };
}

export function sshBlock(port: number, privateKeyPath: string): VmSsh {
  const command = [
    'ssh',
    '-i',
    shellWord(privateKeyPath),
    '-p',
    String(port),
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    `${sshUser}@${hostAddress}`,
  ].join(' ');
  return { host: hostAddress, port, user: sshUser, privateKeyPath, command };
}

/** Quotes a word for a POSIX shell when it needs it, so the command can be pasted as it is. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_\/.,=@:+-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
