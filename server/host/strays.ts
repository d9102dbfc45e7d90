import { readdirSync, readFileSync } from 'node:fs';
import { waitForExit } from './detached.js';
import { readProcStat } from './proc.js';
import { killProcessGroup } from './runner.js';

export interface StrayProcess {
  pid: number;
  startTime: string;
}

/**
 * Live processes whose command line names a path inside dir: a hypervisor whose launch was cut
 * short by a crash before its pid was recorded still names its disks and sockets in there.
 */
export function processesUsing(dir: string): StrayProcess[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const found: StrayProcess[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (!cmdline.includes(prefix)) continue;
    const stat = readProcStat(pid);
    if (stat && stat.state !== 'Z' && stat.state !== 'X') found.push({ pid, startTime: stat.startTime });
  }
  return found;
}

/** Kills every process that still uses dir (by pid and start time) and waits for them to go. */
export async function killProcessesUsing(dir: string, waitMs = 5000): Promise<number> {
  const strays = processesUsing(dir);
  for (const stray of strays) killProcessGroup(stray.pid, stray.startTime, 'SIGKILL');
  await Promise.all(strays.map((stray) => waitForExit(stray.pid, stray.startTime, waitMs)));
  return strays.length;
}
