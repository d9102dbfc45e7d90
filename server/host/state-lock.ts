import { mkdirSync, openSync, readFileSync, rmSync, unlinkSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { processStartTime } from './runner.js';

export class StateDirBusyError extends Error {}

/**
 * One daemon per state dir: a second one would run crash recovery over the first one's live
 * jobs. The lock records pid and process start time, so a lock left by a killed daemon (or a
 * recycled pid) is recognised as stale and taken over.
 */
export function acquireStateLock(stateDir: string): { release(): void } {
  mkdirSync(stateDir, { recursive: true });
  const path = join(stateDir, 'banger.lock');
  const mine = JSON.stringify({ pid: process.pid, startTime: processStartTime(process.pid) });
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      writeSync(fd, mine);
      closeSync(fd);
      return { release: () => rmSync(path, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = readHolder(path);
    if (holder && processStartTime(holder.pid) === holder.startTime) {
      throw new StateDirBusyError(`another banger daemon (pid ${holder.pid}) is already running with the state dir ${stateDir}`);
    }
    unlinkSync(path);
  }
  throw new StateDirBusyError(`could not lock the state dir ${stateDir}: another daemon is starting at the same time`);
}

function readHolder(path: string): { pid: number; startTime: string | null } | null {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as { pid?: unknown; startTime?: unknown };
    if (typeof parsed.pid !== 'number') return null;
    return { pid: parsed.pid, startTime: typeof parsed.startTime === 'string' ? parsed.startTime : null };
  } catch {
    return null;
  }
}
