import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/**
 * A process's memory as the kernel accounts it, mapping by mapping, from /proc/<pid>/smaps.
 * The parser is pure so it can be tested on recorded text; the reader only adds the file.
 * Reading a pid is only meaningful after checking it is still the recorded process
 * (host/detached.ts isProcessAlive): these functions cannot tell a reused pid.
 */

export interface MemoryMapping {
  /** Page-aligned, so exact as numbers even at the top of the 64-bit address space. */
  start: number;
  end: number;
  sizeBytes: number;
  rssBytes: number;
  pssBytes: number;
  /** e.g. "rw-p", "r-xp", "rw-s": the fourth letter says private (copy-on-write) or shared. */
  perms: string;
  /** The mapped file, a pseudo-name like "[heap]", or "" for anonymous memory. */
  path: string;
  /** The VmFlags line's two-letter flags, e.g. "hg" for MADV_HUGEPAGE, "dc" for MADV_DONTFORK. */
  vmFlags: string[];
}

/** Totals come from summing the mappings of one read, so they agree with any part of it. */
export interface MemoryTotals {
  rssBytes: number;
  pssBytes: number;
}

const KiB = 1024;

// start-end perms offset dev inode [path]; the path may contain spaces, so it is the rest.
const HEADER = /^([0-9a-f]+)-([0-9a-f]+)\s+([-rwxsp]{4})\s+[0-9a-f]+\s+[0-9a-f]+:[0-9a-f]+\s+\d+\s*(.*)$/;
const FIELD = /^(\w+):\s+(\d+) kB$/;

/** Every mapping of an smaps text, in file order. Lines that fit no known shape are ignored. */
export function parseSmaps(text: string): MemoryMapping[] {
  const mappings: MemoryMapping[] = [];
  let current: { mapping: MemoryMapping; fields: Map<string, number> } | undefined;
  const finish = (): void => {
    if (!current) return;
    const { mapping, fields } = current;
    mapping.sizeBytes = fields.get('Size') ?? mapping.end - mapping.start;
    mapping.rssBytes = fields.get('Rss') ?? 0;
    mapping.pssBytes = fields.get('Pss') ?? 0;
    mappings.push(mapping);
    current = undefined;
  };
  for (const line of text.split('\n')) {
    const header = HEADER.exec(line);
    if (header) {
      finish();
      const start = parseInt(header[1] as string, 16);
      const end = parseInt(header[2] as string, 16);
      current = {
        mapping: { start, end, sizeBytes: 0, rssBytes: 0, pssBytes: 0, perms: header[3] as string, path: (header[4] as string).trimEnd(), vmFlags: [] },
        fields: new Map(),
      };
    } else if (current && line.startsWith('VmFlags:')) {
      current.mapping.vmFlags = line.slice('VmFlags:'.length).trim().split(/\s+/).filter((flag) => flag !== '');
    } else if (current) {
      const field = FIELD.exec(line);
      if (field) current.fields.set(field[1] as string, Number(field[2]) * KiB);
    }
  }
  finish();
  return mappings;
}

/** Sum of the mappings' resident and proportional bytes. */
export function sumMappings(mappings: readonly MemoryMapping[]): MemoryTotals {
  return mappings.reduce((sum, mapping) => ({ rssBytes: sum.rssBytes + mapping.rssBytes, pssBytes: sum.pssBytes + mapping.pssBytes }), { rssBytes: 0, pssBytes: 0 });
}

/** null when there is no such process (or it exited before the read). */
export async function readSmaps(pid: number): Promise<MemoryMapping[] | null> {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/smaps`, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return null;
    throw error;
  }
  return parseSmaps(text);
}

/**
 * The process's resident set now (VmRSS of /proc/<pid>/status), 0 when it is gone. Synchronous
 * and cheap, for sampling on a timer while something runs; smaps is the thorough read.
 */
export function readRssBytes(pid: number): number {
  try {
    const kib = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kib === undefined ? 0 : Number(kib) * 1024;
  } catch {
    return 0;
  }
}
