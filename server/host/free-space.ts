import { statfsSync } from 'node:fs';
import { RunError } from './runner.js';

/**
 * Bytes an unprivileged writer may still use on the filesystem holding path. The root-reserved
 * blocks are left out on purpose: the daemon runs as root and could write into them, but they
 * are the host's last room to recover, not the daemon's.
 */
export function availableBytes(path: string): number {
  const info = statfsSync(path);
  return Number(info.bavail) * Number(info.bsize);
}

// What the kernel, SQLite and the host tools say when a write finds no room (or no quota).
const errnoCodes = new Set(['ENOSPC', 'EDQUOT']);
const sqliteCodes = new Set(['SQLITE_FULL']);
const toolMessages = /no space left on device|disk quota exceeded|database or disk is full/i;

/**
 * Whether an error, or one it was caused by, is a write that found the disk full: a Node errno,
 * SQLite's SQLITE_FULL, or a host tool that said so on stderr.
 */
export function isOutOfSpace(error: unknown): boolean {
  for (let current = error, depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && (errnoCodes.has(code) || sqliteCodes.has(code))) return true;
    if (current instanceof RunError && toolMessages.test(current.stderr)) return true;
    if (current instanceof Error && toolMessages.test(current.message)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
