import { availableParallelism, totalmem } from 'node:os';
import { parseSize } from '../../domain/byte-size.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Limits and timings of the VM service; every one can be set through the environment. */
export interface VmSettings {
  /** VMs that run or are on their way (see countsAgainstMaxVms): checked at a create that boots and at start. BANGER_MAX_VMS, default 16. */
  maxVms: number;
  /** VM rows in any state, stopped and failed too: checked at every create. BANGER_MAX_VM_RECORDS, default 256. */
  maxVmRecords: number;
  /** BANGER_VM_MAX_CPUS, default the host's CPU count. */
  maxCpus: number;
  /** BANGER_VM_MAX_MEMORY_MIB, default three quarters of the host's memory. */
  maxMemoryMiB: number;
  minMemoryMiB: number;
  /** BANGER_VM_MAX_DISK, default 64G. */
  maxWorkDiskBytes: number;
  defaultCpus: number;
  defaultMemoryMiB: number;
  /** Used when the request names none; never smaller than the image's work seed. */
  defaultWorkDiskBytes: number;
  /** Launch to guest agent answer. BANGER_VM_BOOT_TIMEOUT_SECONDS, default 180 (TCG is slow). */
  agentTimeoutMs: number;
  /** Agent answer to every requested port open. BANGER_VM_PORT_TIMEOUT_SECONDS, default 120. */
  portTimeoutMs: number;
  /** How long a guest gets to power off by itself on stop. BANGER_VM_STOP_GRACE_SECONDS, default 30 (a Debian guest needs ~15 s under TCG). */
  stopGraceMs: number;
  /** How often the liveness and TTL monitor looks. BANGER_VM_MONITOR_INTERVAL_MS, default 2000. */
  monitorIntervalMs: number;
  /** How often a running VM's services are asked after (the guest agent's `services`). BANGER_VM_SERVICE_POLL_MS, default 5000. */
  servicePollMs: number;
  /** Host ports for forwards are picked from this range. BANGER_VM_PORT_RANGE, default 20000-32767 (below Linux's ephemeral range). */
  portRange: { first: number; last: number };
  maxTtlSeconds: number;
  /** How long a failed create's VM is kept for diagnosis before the monitor deletes it; 0 keeps it until deleted by hand. BANGER_VM_FAILED_TTL_SECONDS, default 86400. */
  failedTtlSeconds: number;
}

export class VmSettingsError extends Error {
  override name = 'VmSettingsError';
}

export function vmSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): VmSettings {
  const hostMemoryMiB = Math.floor(totalmem() / MiB);
  const integer = (name: string, fallback: number, min: number): number => {
    const text = env[name];
    if (text === undefined || text === '') return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < min) throw new VmSettingsError(`${name} must be an integer ≥ ${min}, got "${text}"`);
    return value;
  };
  const maxDiskText = env.BANGER_VM_MAX_DISK;
  const maxWorkDiskBytes = maxDiskText ? parseSize(maxDiskText) : 64 * GiB;
  if (maxWorkDiskBytes === null) throw new VmSettingsError(`BANGER_VM_MAX_DISK must be a size like 64G, got "${maxDiskText}"`);
  return {
    maxVms: integer('BANGER_MAX_VMS', 16, 1),
    maxVmRecords: integer('BANGER_MAX_VM_RECORDS', 256, 1),
    maxCpus: integer('BANGER_VM_MAX_CPUS', availableParallelism(), 1),
    maxMemoryMiB: integer('BANGER_VM_MAX_MEMORY_MIB', Math.max(256, Math.floor(hostMemoryMiB * 0.75)), 128),
    minMemoryMiB: 128,
    maxWorkDiskBytes,
    defaultCpus: 1,
    defaultMemoryMiB: 512,
    defaultWorkDiskBytes: GiB,
    agentTimeoutMs: integer('BANGER_VM_BOOT_TIMEOUT_SECONDS', 180, 1) * 1000,
    portTimeoutMs: integer('BANGER_VM_PORT_TIMEOUT_SECONDS', 120, 1) * 1000,
    stopGraceMs: integer('BANGER_VM_STOP_GRACE_SECONDS', 30, 0) * 1000,
    monitorIntervalMs: integer('BANGER_VM_MONITOR_INTERVAL_MS', 2000, 100),
    servicePollMs: integer('BANGER_VM_SERVICE_POLL_MS', 5000, 100),
    portRange: parsePortRange(env.BANGER_VM_PORT_RANGE ?? '20000-32767'),
    maxTtlSeconds: 30 * 24 * 3600,
    failedTtlSeconds: integer('BANGER_VM_FAILED_TTL_SECONDS', 86400, 0),
  };
}

export function parsePortRange(text: string): { first: number; last: number } {
  const match = /^(\d{1,5})-(\d{1,5})$/.exec(text.trim());
  const first = Number(match?.[1]);
  const last = Number(match?.[2]);
  if (!match || first < 1024 || last > 65535 || last - first < 15) {
    throw new VmSettingsError(`BANGER_VM_PORT_RANGE must be FIRST-LAST within 1024-65535 and hold at least 16 ports, got "${text}"`);
  }
  return { first, last };
}
