import { constants } from 'node:fs';
import { lstat, open, readFile, readdir, readlink, realpath, rm, symlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { makeDirs } from '../../host/dirs.js';

/**
 * Reading and writing files of a guest tree from the host without escaping it:
 * a tree can hold symlinks that mean the guest's files, never the host's.
 */

function checkRelative(relPath: string): string {
  const clean = normalize(relPath);
  if (isAbsolute(relPath) || clean === '..' || clean.startsWith(`..${sep}`) || clean === '.') {
    throw new Error(`path inside the tree must be relative and stay inside it: ${relPath}`);
  }
  return clean;
}

/**
 * Host path of relPath in the tree, refusing one whose directory resolves outside
 * rootDir: a tree can hold absolute symlinks (an extracted base rootfs, say) that
 * would otherwise lead reads and writes onto the host's own files.
 */
export async function treePath(rootDir: string, relPath: string, options: { createParents?: boolean } = {}): Promise<string> {
  const clean = checkRelative(relPath);
  const path = join(rootDir, clean);
  const realRoot = await realpath(rootDir);
  const inside = async (dir: string): Promise<void> => {
    const real = await realpath(dir);
    if (real !== realRoot && !real.startsWith(`${realRoot}${sep}`)) throw new Error(`${relPath} leads outside ${rootDir} (through ${real})`);
  };
  if (options.createParents) {
    // Check the deepest existing ancestor first: mkdir would follow a link out of the tree.
    let existing = dirname(path);
    while ((await lstat(existing).catch(() => null)) === null) existing = dirname(existing);
    await inside(existing);
    // 0755 whatever the daemon's umask (077): the tree becomes a guest filesystem.
    await makeDirs(dirname(path));
  }
  await inside(dirname(path));
  return path;
}

/** Reads a regular file of the tree; a symlink there is not followed. */
export async function readTreeFile(rootDir: string, relPath: string): Promise<string> {
  const path = await treePath(rootDir, relPath);
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

export async function listTreeDir(rootDir: string, relPath: string): Promise<string[]> {
  const path = await treePath(rootDir, `${checkRelative(relPath)}/.`);
  return readdir(path);
}

/**
 * Removes what is at path unless it is a directory; a symlink is removed, never
 * followed. Returns the owner of a regular file it removed.
 */
async function clearTarget(path: string): Promise<{ uid: number; gid: number } | null> {
  let info;
  try {
    info = await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  if (info.isDirectory()) throw new Error(`${path} is a directory`);
  await rm(path);
  return info.isFile() ? { uid: info.uid, gid: info.gid } : null;
}

/**
 * Writes a regular file into the tree with an exact mode, replacing a file or
 * symlink there. A replaced file's owner is kept (/etc/shadow belongs to group shadow).
 */
export async function writeTreeFile(rootDir: string, relPath: string, content: string | Buffer, mode = 0o644): Promise<void> {
  const path = await treePath(rootDir, relPath, { createParents: true });
  const owner = await clearTarget(path);
  const handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    await handle.writeFile(content);
    if (owner !== null) await handle.chown(owner.uid, owner.gid);
    // open()'s mode passes through the umask, and chown clears setuid bits.
    await handle.chmod(mode);
  } finally {
    await handle.close();
  }
}

export async function copyIntoTree(rootDir: string, source: string, relPath: string, mode = 0o644): Promise<void> {
  await writeTreeFile(rootDir, relPath, await readFile(source), mode);
}

/** Creates (or replaces) a symlink in the tree; target is as the guest will see it. */
export async function linkInTree(rootDir: string, relPath: string, target: string): Promise<void> {
  const path = await treePath(rootDir, relPath, { createParents: true });
  try {
    const info = await lstat(path);
    if (info.isSymbolicLink() && (await readlink(path)) === target) return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await clearTarget(path);
  await symlink(target, path);
}

export async function removeFromTree(rootDir: string, relPath: string): Promise<void> {
  let path: string;
  try {
    path = await treePath(rootDir, relPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  await clearTarget(path);
}
