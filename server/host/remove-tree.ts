import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { run } from './runner.js';

/**
 * Removes a directory tree that a killed tool may have left mounts in (a bootstrap's /proc or
 * /dev bind mount, say). A plain recursive delete would walk into such a mount and delete the
 * host's own files, so every mount below the path is detached first.
 */
export async function removeTree(path: string): Promise<void> {
  const mounts = mountsUnder(path);
  for (const mountPoint of mounts) {
    await run('umount', ['--lazy', mountPoint], { timeoutMs: 30_000 });
  }
  if (mountsUnder(path).length > 0) {
    throw new Error(`refusing to delete ${path}: filesystems are still mounted below it`);
  }
  await rm(path, { recursive: true, force: true });
}

/** Mount points at or below `path`, deepest first. */
export function mountsUnder(path: string, mountinfo = readMountinfo()): string[] {
  const root = resolve(path);
  return mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => point !== undefined && point !== '')
    .map(unescapeMountPath)
    .filter((point) => point === root || point.startsWith(root + sep))
    .sort((a, b) => b.length - a.length);
}

function readMountinfo(): string {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return '';
  }
}

// mountinfo escapes space, tab, newline and backslash as octal.
function unescapeMountPath(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_match, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}
