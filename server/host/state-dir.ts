import { chmodSync, lstatSync, mkdirSync, readdirSync, statSync, type Dirent } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * The daemon's umask: every file, dir and socket it (or a hypervisor or tool it starts) creates
 * is its user's alone. The API socket is chmod'ed to 0660 explicitly; images built for guests set
 * their files' modes explicitly, so the umask never reaches inside a guest.
 */
export const DAEMON_UMASK = 0o077;

/** What nothing in the state dir keeps: the group's and everyone else's bits. */
const FOREIGN_BITS = 0o077;

export interface SecureStateDirOptions {
  /** Dirs whose contents are left as they are (the dir itself is still tightened). */
  keepContentsOf?: string[];
  /** Entries not touched at all (the API socket, 0660 on purpose). */
  leaveAlone?: string[];
}

/**
 * Creates the state dir 0700, or makes an existing one 0700, and takes group and world bits
 * away from everything in it that an older banger left wider (a 0755 dir, a 0644 database):
 * one walk at start, symlinks neither followed nor changed. An entry it may not change (another
 * user's file, for a daemon that does not run as root) is reported, not fatal.
 */
export function secureStateDir(stateDir: string, options: SecureStateDirOptions = {}): { changed: number; failed: string[] } {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const root = statSync(stateDir);
  if (!root.isDirectory()) throw new Error(`the state dir ${stateDir} is not a directory`);
  let changed = 0;
  const failed: string[] = [];
  if ((root.mode & 0o7777) !== 0o700) {
    chmodSync(stateDir, 0o700);
    changed += 1;
  }
  const keep = new Set((options.keepContentsOf ?? []).map((path) => resolve(path)));
  const leave = new Set((options.leaveAlone ?? []).map((path) => resolve(path)));
  // Top down: a dir is closed to others before what is in it is looked at.
  const pending = [resolve(stateDir)];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    let entries: Dirent[];
    try {
      entries = listDir(dir);
    } catch (error) {
      if (!isPermissionError(error)) throw error;
      failed.push(dir);
      continue;
    }
    for (const entry of entries) {
      if (entry.isSymbolicLink()) continue;
      const path = join(dir, entry.name);
      if (leave.has(path)) continue;
      const info = lstatOrNull(path);
      if (info === null || info.isSymbolicLink()) continue;
      if ((info.mode & FOREIGN_BITS) !== 0) {
        try {
          chmodSync(path, info.mode & 0o7777 & ~FOREIGN_BITS);
          changed += 1;
        } catch (error) {
          if (!isPermissionError(error)) throw error;
          failed.push(path);
        }
      }
      if (info.isDirectory() && !keep.has(path)) pending.push(path);
    }
  }
  return { changed, failed };
}

function isPermissionError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'EPERM' || code === 'EACCES';
}

function listDir(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

function lstatOrNull(path: string) {
  try {
    return lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
