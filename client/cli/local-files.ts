import { randomBytes } from 'node:crypto';
import { createWriteStream, type Stats } from 'node:fs';
import { chmod, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';

/**
 * The host side of `banger vm cp`: directories packed to and unpacked from tar streams, and
 * files written so that a transfer that breaks off leaves nothing half-written.
 */

/** The stats of path (symlinks followed), or null when nothing is there. */
export async function statOrNull(path: string): Promise<Stats | null> {
  return stat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return null;
    throw error;
  });
}

/**
 * A directory's contents as a tar stream, produced as it is read: entries named "./…", symlinks
 * kept. Portable: no owners (the guest's users are not this host's, so root owns what arrives),
 * and permission bits as a umask of 022 leaves them, so 0600 and 0755 stay, 0664 becomes 0644.
 * Any entry it cannot read fails the stream, rather than leave it out of the copy unnoticed.
 */
export function packDirectory(dir: string): AsyncIterable<Uint8Array> {
  return tar.create(
    {
      cwd: dir,
      portable: true,
      strict: true,
      // Portable also leaves directories' mtimes out, and the guest's tar would date them 1970: keep
      // them, as files' are. tar 7.5 calls this after setting noMtime, just before the header.
      onWriteEntry: (entry) => {
        entry.noMtime = false;
      },
    },
    ['.'],
  );
}

/**
 * Writes body to path through a new file beside it, renamed over path once complete with the
 * given permission bits: a transfer that breaks off leaves the old file, or none. Resolves with
 * the bytes written.
 */
export async function writeFileAtomically(path: string, body: Readable, mode: number): Promise<number> {
  const temporary = join(dirname(path), `.${basename(path)}.banger-${randomBytes(4).toString('hex')}`);
  const counter = byteCounter();
  try {
    await pipeline(body, counter.stream, createWriteStream(temporary, { flags: 'wx', mode: 0o600 }));
    // Set after writing: the mode at open passes through the umask.
    await chmod(temporary, mode);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  return counter.bytes();
}

/**
 * Unpacks a tar stream into dir, keeping the archive's permission bits (owners are this user's).
 * A new dir is unpacked beside it first and renamed into place once whole; into an existing one
 * the entries are merged as they come, so a broken transfer may leave part of them there.
 * Resolves with the archive's size.
 */
export async function unpackDirectory(body: Readable, dir: string): Promise<number> {
  if ((await statOrNull(dir))?.isDirectory()) return unpack(body, dir);
  const staging = await mkdtemp(join(dirname(dir), `.${basename(dir)}.banger-`));
  try {
    const bytes = await unpack(body, staging);
    await rename(staging, dir);
    return bytes;
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}

async function unpack(body: Readable, dir: string): Promise<number> {
  const counter = byteCounter();
  // chmod: the archive's "./" entry gives dir its mode too; strict: a damaged archive fails.
  await pipeline(body, counter.stream, tar.extract({ cwd: dir, chmod: true, preserveOwner: false, strict: true }));
  return counter.bytes();
}

/** Creates the missing directories above path, for --mkdirs. */
export async function makeParents(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
}

function byteCounter(): { stream: Transform; bytes: () => number } {
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  return { stream, bytes: () => bytes };
}
