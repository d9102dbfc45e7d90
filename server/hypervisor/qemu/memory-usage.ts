import { readFile, realpath } from 'node:fs/promises';
import { isProcessAlive } from '../../host/detached.js';
import { readSmaps, sumMappings, type MemoryMapping } from '../../host/proc-memory.js';
import type { MemoryUsage } from '../snapshot.js';

/**
 * How much of a QEMU process's resident memory is guest RAM, from its smaps.
 *
 * What QEMU 7.2 maps (measured on q35 under TCG with -m 256, 1024 and 4096): every RAM
 * block (guest RAM, and the few small ones for firmware and option ROMs, ≤ 2 MiB each)
 * gets its own mapping that QEMU marks MADV_DONTFORK, which smaps shows as the VmFlag
 * "dc"; nothing else in the process carries it. Guest RAM is the one of exactly -m bytes:
 * anonymous "rw-p" with -m alone, the file's mapping ("rw-s" or "rw-p" with its path)
 * with memory-backend-file. The TCG translation cache is "rwxp" and never "dc".
 */

export interface QemuMemoryBreakdown extends MemoryUsage {
  pssBytes: number;
  /** The mappings counted as guest RAM: one on QEMU 7.2; summed should the kernel ever split it. */
  guestRam: MemoryMapping[];
  /** Every mapping of the process, from the same read. */
  mappings: MemoryMapping[];
}

const MiB = 1024 * 1024;
const RAM_BLOCK_FLAG = 'dc';

/** smaps marks a mapped file that was unlinked after mapping with this suffix. */
function withoutDeleted(path: string): string {
  return path.endsWith(' (deleted)') ? path.slice(0, -' (deleted)'.length) : path;
}

/**
 * Adjacent RAM-block mappings, each run one candidate: a VMA split (by an madvise or mprotect on
 * part of it) leaves the pieces back to back, while QEMU puts a guard page after every block.
 */
function adjacentRuns(mappings: readonly MemoryMapping[]): MemoryMapping[][] {
  const runs: MemoryMapping[][] = [];
  for (const mapping of mappings) {
    const run = runs.at(-1);
    const last = run?.at(-1);
    if (run && last && last.end === mapping.start && last.path === mapping.path) run.push(mapping);
    else runs.push([mapping]);
  }
  return runs;
}

/** The guest RAM mappings among a QEMU process's mappings; pure, for a process's parsed smaps. */
export function guestRamMappings(mappings: readonly MemoryMapping[], memoryMiB: number, memoryFile?: string): MemoryMapping[] {
  const blocks = mappings.filter((mapping) => mapping.vmFlags.includes(RAM_BLOCK_FLAG) && mapping.perms.startsWith('rw'));
  const candidates =
    memoryFile === undefined ? blocks.filter((mapping) => mapping.path === '') : blocks.filter((mapping) => withoutDeleted(mapping.path) === memoryFile);
  const bytes = memoryMiB * MiB;
  const runs = adjacentRuns(candidates).filter((run) => run.reduce((sum, mapping) => sum + mapping.sizeBytes, 0) === bytes);
  if (runs.length !== 1) {
    const where = memoryFile === undefined ? 'anonymous RAM block' : `mapping of ${memoryFile}`;
    throw new Error(`${runs.length === 0 ? 'no' : runs.length} ${where} of ${memoryMiB} MiB in the QEMU process's smaps: cannot tell its guest RAM`);
  }
  return runs[0] as MemoryMapping[];
}

function notRunning(pid: number, startTime: string): Error {
  return new Error(`process ${pid} (start time ${startTime}) is not running`);
}

/** Resident and proportional totals and guest RAM, read from one smaps text so they agree. */
export async function qemuMemoryBreakdown(pid: number, startTime: string, memoryMiB: number, memoryFile?: string): Promise<QemuMemoryBreakdown> {
  // smaps shows the file as the kernel resolved it: a symlink or relative path would never match.
  const file = memoryFile === undefined ? undefined : await realpath(memoryFile).catch(() => memoryFile);
  if (!isProcessAlive(pid, startTime)) throw notRunning(pid, startTime);
  const mappings = await readSmaps(pid);
  // Checked again after the read: a pid that died and was reused in between would show someone else's memory.
  if (mappings === null || !isProcessAlive(pid, startTime)) throw notRunning(pid, startTime);
  const guestRam = guestRamMappings(mappings, memoryMiB, file);
  const totals = sumMappings(mappings);
  return { rssBytes: totals.rssBytes, pssBytes: totals.pssBytes, guestRamRssBytes: sumMappings(guestRam).rssBytes, guestRam, mappings };
}

export async function qemuMemoryUsage(pid: number, startTime: string, memoryMiB: number, memoryFile?: string): Promise<MemoryUsage> {
  const { rssBytes, guestRamRssBytes } = await qemuMemoryBreakdown(pid, startTime, memoryMiB, memoryFile);
  return { rssBytes, guestRamRssBytes };
}

export interface QemuGuestMemory {
  memoryMiB: number;
  memoryFile?: string;
}

/** QEMU's key=value lists: commas separate, a doubled comma is a literal one; a leading bare value gets impliedKey. */
function qemuOptionList(value: string, impliedKey: string): Map<string, string> {
  const options = new Map<string, string>();
  // A NUL cannot occur in an argument, so it can stand in for the literal commas while splitting.
  const parts = value.replace(/,,/g, '\0').split(',').map((part) => part.replace(/\0/g, ','));
  parts.forEach((part, index) => {
    const equals = part.indexOf('=');
    if (equals >= 0) options.set(part.slice(0, equals), part.slice(equals + 1));
    else options.set(index === 0 ? impliedKey : part, index === 0 ? part : 'on');
  });
  return options;
}

/** -object in either syntax QEMU 7.2 takes: key=value or JSON. */
function objectOptions(value: string): Map<string, string> {
  if (!value.startsWith('{')) return qemuOptionList(value, 'qom-type');
  const parsed = JSON.parse(value) as Record<string, unknown>;
  return new Map(Object.entries(parsed).map(([key, entry]) => [key, String(entry)]));
}

const SIZE_UNITS: Record<string, number> = { K: 1 / 1024, M: 1, G: 1024, T: 1024 * 1024 };

/**
 * Guest RAM size and file as a QEMU command line states them (without the binary's name): the
 * driver's VmProcess records neither, but the process's own /proc/<pid>/cmdline does.
 */
export function qemuGuestMemoryFromArgs(args: readonly string[]): QemuGuestMemory {
  const valuesOf = (...flags: string[]): string[] => args.flatMap((arg, index) => (flags.includes(arg) && args[index + 1] !== undefined ? [args[index + 1] as string] : []));
  const size = valuesOf('-m').map((value) => qemuOptionList(value, 'size').get('size')).at(-1);
  // -m takes MiB when the number has no unit.
  const match = /^(\d+)([KMGT]?)B?$/i.exec(size ?? '');
  const memoryMiB = match ? Number(match[1]) * (SIZE_UNITS[(match[2] || 'M').toUpperCase()] as number) : NaN;
  if (!Number.isInteger(memoryMiB) || memoryMiB <= 0) throw new Error(`the QEMU command line has no -m of whole MiB: ${JSON.stringify(size)}`);

  const backendId = valuesOf('-machine', '-M').map((value) => qemuOptionList(value, 'type').get('memory-backend')).filter((id) => id !== undefined).at(-1);
  const backend = valuesOf('-object').map(objectOptions).find((object) => backendId !== undefined && object.get('id') === backendId);
  const memoryFile = backend?.get('qom-type') === 'memory-backend-file' ? backend.get('mem-path') : undefined;
  return memoryFile === undefined ? { memoryMiB } : { memoryMiB, memoryFile };
}

/** qemuMemoryUsage with the RAM size and file taken from the process's own command line. */
export async function qemuProcessMemoryUsage(pid: number, startTime: string): Promise<MemoryUsage> {
  if (!isProcessAlive(pid, startTime)) throw notRunning(pid, startTime);
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
  const { memoryMiB, memoryFile } = qemuGuestMemoryFromArgs(cmdline.split('\0').slice(1, -1));
  return qemuMemoryUsage(pid, startTime, memoryMiB, memoryFile);
}
