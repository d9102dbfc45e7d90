import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { processesUsing } from '../server/host/strays.js';
import { readRssBytes } from '../server/host/proc-memory.js';
import { stateLayout } from '../server/config.js';

/** What a long run of a daemon may leak, read from outside it: /proc and its state dir. */
export interface DaemonProbe {
  fds: number;
  /** Open fds by kind (socket, pipe, anon_inode:[eventfd], a file's dir, …), to tell which grew. */
  fdKinds: Map<string, number>;
  rssBytes: number;
  /** banger.db and its WAL apart: the WAL keeps the size of its largest stretch between checkpoints. */
  sqliteBytes: { db: number; wal: number };
  /** Paths and processes that should not outlive the VMs and jobs that made them. */
  leftovers: string[];
}

function entriesOf(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

// Files are grouped by directory: a per-VM path would make every VM its own kind and hide the trend.
function fdKind(target: string): string {
  if (target.startsWith('/')) return `file in ${target.slice(0, target.lastIndexOf('/')) || '/'}`;
  return target.replace(/\[\d+\]$/, '').replace(/:$/, '') || target;
}

export function readFdKinds(pid: number): Map<string, number> {
  const kinds = new Map<string, number>();
  for (const fd of entriesOf(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed between the listing and the read
    }
    const kind = fdKind(target);
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  return kinds;
}

export function countFds(pid: number): number {
  return entriesOf(`/proc/${pid}/fd`).length;
}

/** VM dirs, image staging and build work dirs, and any process (a guest's QEMU) naming the state dir. */
export function stateLeftovers(stateDir: string, daemonPid: number): string[] {
  const layout = stateLayout(stateDir);
  const staging = (entry: string) => entry.includes('.build-') || entry.includes('.promote-') || entry.includes('.work');
  const processes = processesUsing(stateDir)
    .filter((found) => found.pid !== daemonPid)
    .map((found) => {
      let comm = '?';
      try {
        comm = readFileSync(`/proc/${found.pid}/comm`, 'utf8').trim();
      } catch {
        // exited meanwhile; still worth naming
      }
      return `process ${found.pid} (${comm})`;
    });
  return [
    ...entriesOf(join(stateDir, 'vms')).map((entry) => `vms/${entry}`),
    ...entriesOf(layout.imagesDir).filter(staging).map((entry) => `images/${entry}`),
    ...entriesOf(layout.imageBuildLogs).filter(staging).map((entry) => `image-build/${entry}`),
    ...processes,
  ];
}

export function sqliteBytes(stateDir: string): { db: number; wal: number } {
  const database = stateLayout(stateDir).database;
  return { db: sizeOf(database), wal: sizeOf(`${database}-wal`) };
}

export function probeDaemon(pid: number, stateDir: string): DaemonProbe {
  const fdKinds = readFdKinds(pid);
  return {
    fds: [...fdKinds.values()].reduce((sum, count) => sum + count, 0),
    fdKinds,
    rssBytes: readRssBytes(pid),
    sqliteBytes: sqliteBytes(stateDir),
    leftovers: stateLeftovers(stateDir, pid),
  };
}

/** Kinds whose count changed between two probes, as "kind: before → after". */
export function fdKindChanges(before: Map<string, number>, after: Map<string, number>): string[] {
  const changes: string[] = [];
  for (const kind of new Set([...before.keys(), ...after.keys()])) {
    const [was, is] = [before.get(kind) ?? 0, after.get(kind) ?? 0];
    if (was !== is) changes.push(`${kind}: ${was} → ${is}`);
  }
  return changes.sort();
}
