import { readFileSync } from 'node:fs';

export interface ProcStat {
  state: string;
  startTime: string;
  processGroup: number;
  session: number;
  /** User plus system CPU time so far, in clock ticks (USER_HZ, 100 a second on Linux). */
  cpuTicks: number;
}

/** The kernel's USER_HZ, fixed at 100 on every Linux architecture banger runs on. */
export const CLOCK_TICKS_PER_SECOND = 100;

/** The fields of /proc/<pid>/stat banger needs, or null if there is no such process. */
export function readProcStat(pid: number): ProcStat | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // comm (field 2) may itself contain ') ', so split after its last one.
  const fields = stat.slice(stat.lastIndexOf(')') + 1).trim().split(/\s+/);
  // fields[0] is field 3 (state); pgrp is 5, session 6, utime 14, stime 15, starttime 22.
  const [state, , processGroup, session] = fields;
  const [userTicks, systemTicks] = [fields[11], fields[12]];
  const startTime = fields[19];
  if (state === undefined || processGroup === undefined || session === undefined || startTime === undefined) return null;
  const cpuTicks = Number(userTicks) + Number(systemTicks);
  return { state, startTime, processGroup: Number(processGroup), session: Number(session), cpuTicks: Number.isFinite(cpuTicks) ? cpuTicks : 0 };
}
