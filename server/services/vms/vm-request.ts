import { randomBytes } from 'node:crypto';
import { labelKeyPattern, maxLabels, maxLabelValueLength, maxPorts } from '../../domain/vm.js';
import type { CreateVmBody } from '../../schemas/vm.js';
import type { FieldError } from '../errors.js';
import { formatSize, parseSize } from '../../domain/byte-size.js';
import type { VmSettings } from './vm-settings.js';

const labelKey = new RegExp(labelKeyPattern);

export type CreateVmInput = CreateVmBody;

export interface LabelSelector {
  key: string;
  value: string;
}

/** `vm-` and six hex digits: short enough to type, random enough for one host. */
export function generatedVmName(): string {
  return `vm-${randomBytes(3).toString('hex')}`;
}

/** `key=value` (the value may itself hold `=`); null when there is no `=` or the key is not a label key. */
export function parseLabelSelector(text: string): LabelSelector | null {
  const at = text.indexOf('=');
  if (at <= 0) return null;
  const key = text.slice(0, at);
  const value = text.slice(at + 1);
  if (!labelKey.test(key) || value.length > maxLabelValueLength) return null;
  return { key, value };
}

export function labelErrors(labels: Record<string, string>, field = 'body.labels'): FieldError[] {
  const errors: FieldError[] = [];
  const keys = Object.keys(labels);
  if (keys.length > maxLabels) errors.push({ field, message: `has ${keys.length} labels; at most ${maxLabels} are allowed` });
  for (const key of keys) {
    if (!labelKey.test(key)) {
      errors.push({ field: `${field}.${key}`, message: `"${key}" is not a label key`, hint: 'label keys are 1-63 letters, digits, ".", "_", "/" or "-", starting with a letter or digit' });
    }
  }
  return errors;
}

/** Checks of a create request that need no database: each failure names its field. */
export function resourceErrors(input: CreateVmInput, settings: VmSettings, workSeedBytes: number | null): { errors: FieldError[]; workDiskBytes: number } {
  const errors: FieldError[] = [];
  const cpus = input.cpus ?? settings.defaultCpus;
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > settings.maxCpus) {
    errors.push({ field: 'body.cpus', message: `${cpus} is outside 1..${settings.maxCpus}`, hint: `this host allows at most ${settings.maxCpus} vCPUs per VM (BANGER_VM_MAX_CPUS)` });
  }
  const memory = input.memoryMiB ?? settings.defaultMemoryMiB;
  if (!Number.isInteger(memory) || memory < settings.minMemoryMiB || memory > settings.maxMemoryMiB) {
    errors.push({
      field: 'body.memoryMiB',
      message: `${memory} MiB is outside ${settings.minMemoryMiB}..${settings.maxMemoryMiB}`,
      hint: `pick between ${settings.minMemoryMiB} and ${settings.maxMemoryMiB} MiB (BANGER_VM_MAX_MEMORY_MIB)`,
    });
  }

  let workDiskBytes = Math.max(settings.defaultWorkDiskBytes, workSeedBytes ?? 0);
  if (input.workDiskSize !== undefined) {
    const parsed = parseSize(input.workDiskSize);
    if (parsed === null) {
      errors.push({ field: 'body.workDiskSize', message: `"${input.workDiskSize}" is not a size`, hint: 'use a number with a unit, e.g. 512M or 2G' });
    } else if (!Number.isSafeInteger(parsed)) {
      // Beyond 8 PiB a byte count is no longer exact (the contract states workDiskBytes up to 2^53 - 1), whatever BANGER_VM_MAX_DISK says.
      errors.push({ field: 'body.workDiskSize', message: `${input.workDiskSize} is too large to count in bytes`, hint: `use at most ${formatSize(settings.maxWorkDiskBytes)} (BANGER_VM_MAX_DISK)` });
    } else if (workSeedBytes !== null && parsed < workSeedBytes) {
      errors.push({
        field: 'body.workDiskSize',
        message: `${input.workDiskSize} is smaller than the image's work seed (${formatSize(workSeedBytes)})`,
        hint: `use at least ${formatSize(workSeedBytes)}: the work disk is the seed grown, never shrunk`,
      });
    } else if (parsed > settings.maxWorkDiskBytes) {
      errors.push({ field: 'body.workDiskSize', message: `${input.workDiskSize} is over ${formatSize(settings.maxWorkDiskBytes)}`, hint: `use at most ${formatSize(settings.maxWorkDiskBytes)} (BANGER_VM_MAX_DISK)` });
    } else {
      workDiskBytes = parsed;
    }
  }
  if (workDiskBytes > settings.maxWorkDiskBytes && input.workDiskSize === undefined) workDiskBytes = settings.maxWorkDiskBytes;

  const ports = input.ports ?? [];
  if (ports.length > maxPorts) errors.push({ field: 'body.ports', message: `${ports.length} ports; at most ${maxPorts} can be published` });
  const seen = new Set<number>();
  for (const port of ports) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) errors.push({ field: 'body.ports', message: `${port} is not a TCP port number` });
    else if (seen.has(port)) errors.push({ field: 'body.ports', message: `port ${port} is listed twice`, hint: 'list each guest port once' });
    seen.add(port);
  }
  errors.push(...labelErrors(input.labels ?? {}));
  if (input.ttlSeconds !== undefined && (!Number.isInteger(input.ttlSeconds) || input.ttlSeconds < 1 || input.ttlSeconds > settings.maxTtlSeconds)) {
    errors.push({ field: 'body.ttlSeconds', message: `${input.ttlSeconds} is outside 1..${settings.maxTtlSeconds}`, hint: 'a TTL is at most 30 days' });
  }
  return { errors, workDiskBytes };
}
