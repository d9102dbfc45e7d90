import { createReadStream, type Stats } from 'node:fs';
import { basename, dirname, join, posix, resolve } from 'node:path';
import type { BangerClient } from '../client.js';
import type { WrittenPath } from '../types.js';
import { makeParents, packDirectory, statOrNull, unpackDirectory, writeFileAtomically } from './local-files.js';
import { UsageError } from './output.js';

/** Copies between this host and a running VM, for `banger vm cp` and `banger run`. */

/** `NAME:/abs/path` on the command line. */
export interface GuestLocation {
  vm: string;
  path: string;
}

export interface CopyOptions {
  /** Create missing parent directories of the destination. */
  mkdirs?: boolean;
  signal?: AbortSignal;
}

/**
 * A local file or directory into the guest: the guest path names what to write (a directory is
 * created or merged into); ending it with / writes into that directory under the local name.
 */
export async function copyIntoGuest(client: BangerClient, local: string, localStats: Stats, guest: GuestLocation, options: CopyOptions): Promise<WrittenPath> {
  const target = guest.path.endsWith('/') ? posix.join(guest.path, basename(resolve(local))) : guest.path;
  const { mkdirs, signal } = options;
  if (localStats.isDirectory()) return client.writeDirectory(guest.vm, target, packDirectory(local), { mkdirs, signal });
  return client.writeFile(guest.vm, target, createReadStream(local), { mode: localStats.mode & 0o777, mkdirs, signal });
}

/** A guest file or directory to this host, like cp -r: into an existing local directory under the guest name, else as local. */
export async function copyOutOfGuest(client: BangerClient, guest: GuestLocation, local: string, options: CopyOptions): Promise<WrittenPath> {
  const target = await localTarget(local, posix.basename(guest.path), options);
  const content = await client.readPath(guest.vm, guest.path, { signal: options.signal });
  const existing = await statOrNull(target);
  if (options.mkdirs) await makeParents(target);
  if (content.type === 'directory') {
    if (existing && !existing.isDirectory()) {
      content.body.destroy();
      throw new Error(`${target} exists and is not a directory; ${guest.vm}:${guest.path} is one`);
    }
    return { path: resolve(target), type: 'directory', sizeBytes: await unpackDirectory(content.body, target) };
  }
  if (existing?.isDirectory()) {
    content.body.destroy();
    throw new Error(`${target} is a directory; ${guest.vm}:${guest.path} is a file`);
  }
  const mode = Number.parseInt(content.mode, 8);
  return { path: resolve(target), type: 'file', sizeBytes: await writeFileAtomically(target, content.body, mode), mode: content.mode };
}

/**
 * Where a copy out lands, decided before anything is fetched: inside DST when it is a directory
 * (or ends with / and may be created), under the guest name, as cp -r does; else DST itself.
 */
async function localTarget(destination: string, guestName: string, options: CopyOptions): Promise<string> {
  const stats = await statOrNull(destination);
  const into = stats?.isDirectory() || destination.endsWith('/');
  const target = into ? join(destination, guestName) : destination;
  if (!options.mkdirs && !(await statOrNull(dirname(target)))?.isDirectory()) {
    throw new UsageError(`${dirname(target)} is not an existing directory; create it, or pass --mkdirs`);
  }
  return target;
}
