import { readFileSync } from 'node:fs';

export interface ProcStat {
  state: string;
  startTime: string;
  processGroup: number;
  session: number;
}

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
  // fields[0] is field 3 (state); pgrp is 5, session 6, starttime 22.
  const [state, , processGroup, session] = fields;
  const startTime = fields[19];
  if (state === undefined || processGroup === undefined || session === undefined || startTime === undefined) return null;
  return { state, startTime, processGroup: Number(processGroup), session: Number(session) };
}
