import type { Readable } from 'node:stream';
import { segment, type ByteSource, type Transport } from './transport.js';
import type { WrittenPath } from './types.js';

const FILE = 'application/octet-stream';
const TAR = 'application/x-tar';

export interface WriteDirectoryOptions {
  /** Create missing parent directories (0755) instead of failing with 404 guest-path-not-found. */
  mkdirs?: boolean;
  signal?: AbortSignal;
}

export interface WriteFileOptions extends WriteDirectoryOptions {
  /** Permission bits, as 0o644 or "0644" (default: the replaced file's, else 0644). */
  mode?: string | number;
}

/**
 * What readPath found: a regular file's bytes with its size and mode (octal, e.g. "0644"), or a
 * directory's contents as a tar stream (entries named "./…").
 */
export type GuestPathContent = { type: 'file'; sizeBytes: number; mode: string; body: Readable } | { type: 'directory'; body: Readable };

export async function writeGuestFile(transport: Transport, idOrName: string, guestPath: string, source: ByteSource, options: WriteFileOptions = {}): Promise<WrittenPath> {
  const mode = typeof options.mode === 'number' ? options.mode.toString(8).padStart(4, '0') : options.mode;
  return putPath(transport, idOrName, { path: guestPath, mode, mkdirs: options.mkdirs }, { contentType: FILE, source }, options.signal);
}

export async function writeGuestDirectory(transport: Transport, idOrName: string, guestPath: string, tar: ByteSource, options: WriteDirectoryOptions = {}): Promise<WrittenPath> {
  return putPath(transport, idOrName, { path: guestPath, mkdirs: options.mkdirs }, { contentType: TAR, source: tar }, options.signal);
}

export async function readGuestPath(transport: Transport, idOrName: string, guestPath: string, options: { signal?: AbortSignal } = {}): Promise<GuestPathContent> {
  const response = await transport.raw('GET', filesPath(idOrName), { query: { path: guestPath }, signal: options.signal }, `${FILE}, ${TAR}`);
  const contentType = String(response.headers['content-type'] ?? '').split(';')[0]?.trim();
  if (contentType === TAR) return { type: 'directory', body: response.body };
  if (contentType === FILE) {
    return { type: 'file', sizeBytes: Number(response.headers['content-length']), mode: String(response.headers['x-banger-file-mode']), body: response.body };
  }
  response.body.destroy();
  throw new Error(`the daemon answered ${guestPath} with ${contentType || 'no content type'}, neither a file nor a tar archive`);
}

async function putPath(
  transport: Transport,
  idOrName: string,
  query: { path: string; mode?: string; mkdirs?: boolean },
  bytes: { contentType: string; source: ByteSource },
  signal: AbortSignal | undefined,
): Promise<WrittenPath> {
  return (await transport.json<WrittenPath>('PUT', filesPath(idOrName), { query, bytes, signal })).body;
}

function filesPath(idOrName: string): string {
  return `/vms/${segment(idOrName)}/files`;
}
