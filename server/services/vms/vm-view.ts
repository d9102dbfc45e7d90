import type { VmPortRow, VmRow } from '../../db/repositories/vms.js';
import { formatSize } from '../images/build/build-request.js';

export const vmStates = ['creating', 'starting', 'running', 'stopping', 'stopped', 'failed', 'deleting'] as const;
export type VmState = (typeof vmStates)[number];

/** Where published ports listen on the host: a forward is never opened to the network. */
export const hostAddress = '127.0.0.1';
export const sshGuestPort = 22;
export const sshUser = 'root';

export interface VmPort {
  guestPort: number;
  hostPort: number;
  hostAddress: string;
  /** True when creates and starts wait for it to accept connections. */
  wait: boolean;
}

export interface VmSsh {
  host: string;
  port: number;
  user: string;
  /** The daemon's private key; only usable on the daemon's host. */
  privateKeyPath: string;
  command: string;
}

export interface VmStateReason {
  code: string;
  message: string;
  at: string | null;
}

/** The VM as clients see it. */
export interface Vm {
  id: string;
  name: string;
  state: VmState;
  stateReason: VmStateReason | null;
  image: { id: string; name: string | null; href: string };
  cpus: number;
  memoryMiB: number;
  workDiskSize: string;
  workDiskBytes: number;
  hypervisor: string;
  accel: 'kvm' | 'tcg' | null;
  /** The hypervisor's pid while it runs. */
  pid: number | null;
  ports: VmPort[];
  ssh: VmSsh | null;
  labels: Record<string, string>;
  ttlSeconds: number | null;
  expiresAt: string | null;
  /** Milliseconds per phase of the last create or start, and their total. */
  timings: Record<string, number> | null;
  bootedAt: string | null;
  dir: string | null;
  consoleLogPath: string | null;
  createdAt: string;
  updatedAt: string;
  href: string;
}

const liveStates: readonly string[] = ['creating', 'starting', 'running', 'stopping', 'deleting'];

export function vmView(row: VmRow, imageName: string | null, ports: VmPortRow[], sshPrivateKeyPath: string): Vm {
  const published = ports
    .map((port) => ({ guestPort: port.guestPort, hostPort: port.hostPort, hostAddress, wait: port.wait }))
    .sort((a, b) => a.guestPort - b.guestPort);
  const sshPort = published.find((port) => port.guestPort === sshGuestPort);
  return {
    id: row.id,
    name: row.name,
    state: row.state as VmState,
    stateReason: row.stateReason ? { code: row.stateReason, message: row.stateMessage ?? '', at: row.stateChangedAt } : null,
    image: { id: row.imageId, name: imageName, href: `/images/${row.imageId}` },
    cpus: row.cpus,
    memoryMiB: row.memoryMib,
    workDiskSize: formatSize(row.workDiskBytes),
    workDiskBytes: row.workDiskBytes,
    hypervisor: row.hypervisor,
    accel: (row.accel as Vm['accel']) ?? null,
    pid: row.process && liveStates.includes(row.state) ? row.process.pid : null,
    ports: published,
    ssh: sshPort ? sshBlock(sshPort.hostPort, sshPrivateKeyPath) : null,
    labels: row.labels,
    ttlSeconds: row.ttlSeconds,
    expiresAt: row.expiresAt,
    timings: row.timings ?? null,
    bootedAt: row.bootedAt,
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
