import { constants } from 'node:fs';
import { lstat, open, readlink, realpath, statfs, type FileHandle } from 'node:fs/promises';
import { isAbsolute, join, normalize } from 'node:path';

/**
 * What a host file handed to the daemon claims to be, checked by its first bytes, and where it may
 * lie. The daemon runs as root: without these checks a request could have it copy /etc/shadow or
 * /proc/self/environ into an image.
 */

/** ext2/3/4 (the guest's ext4 driver mounts all three), a Linux x86 kernel, an initramfs, a small text file. */
export type HostFileKind = 'ext4' | 'kernel' | 'initrd' | 'text';

export type HostPathProblemReason =
  | 'missing'
  | 'unreadable'
  | 'not-regular'
  | 'not-directory'
  | 'pseudo-filesystem'
  | 'outside-roots'
  | 'wrong-kind'
  | 'changed';

/** Why a path is unusable. `message` reads after the path: "/etc/shadow <message>". */
export class HostPathProblem extends Error {
  constructor(
    readonly reason: HostPathProblemReason,
    message: string,
  ) {
    super(message);
    this.name = 'HostPathProblem';
  }
}

/** Never a place for images, and never an import root: kernel interfaces, not files on a disk. */
export const pseudoFilesystemDirs = ['/proc', '/sys', '/dev'] as const;

/** statfs f_type of filesystems with no stored files (linux/magic.h). tmpfs is not here: /tmp is one. */
const pseudoFilesystemTypes = new Map<number, string>([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x1cd1, 'devpts'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0xcafe4a11, 'bpf'],
  [0x62656570, 'configfs'],
  [0xde5e81e4, 'efivarfs'],
  [0x6165676c, 'pstore'],
  [0x65735543, 'fusectl'],
  [0x42494e4d, 'binfmt_misc'],
  [0x19800202, 'mqueue'],
  [0xf97cff8c, 'selinuxfs'],
  [0x73717368, 'nsfs'],
]);

/** How much of a file is read to tell what it is; the ext superblock magic sits at 1080. */
const headerBytes = 4096;
/** A packages list is a few KiB; anything much larger is not one. */
export const maxTextFileBytes = 1024 * 1024;

const EXT_MAGIC_OFFSET = 1024 + 56;
const EXT_MAGIC = 0xef53;

/** Where a path leads, found without opening it: its real path and what stat says of that. */
interface Resolved {
  realPath: string;
  via: string;
}

export interface OpenedHostFile {
  handle: FileHandle;
  /** The real path of the opened file, as the kernel names the open file. */
  realPath: string;
  size: number;
  /**
   * A path through which another process on this host (cp, debugfs) reaches exactly the opened
   * file while the handle is open, whatever happens to the path it was found by.
   */
  procPath: string;
  close(): Promise<void>;
}

/**
 * Opens `path` for reading once it is known to be a regular file of `kind` that lies inside
 * `roots` (null: anywhere) and on no pseudo filesystem. The real path is opened O_NOFOLLOW and
 * O_NONBLOCK, and what was opened is checked again through the descriptor, so a path swapped for a
 * symlink, a fifo or another file on the way is refused rather than followed. Throws a
 * HostPathProblem saying what is wrong; the caller closes what it gets.
 */
export async function openHostFile(path: string, kind: HostFileKind, roots: readonly string[] | null): Promise<OpenedHostFile> {
  const { realPath, via } = await resolveWithin(path, roots);
  const before = await statOrProblem(realPath, via);
  if (before.isSymbolicLink()) throw changed(via);
  if (!before.isFile()) throw new HostPathProblem('not-regular', `${describeType(before)}, expected a regular file${via}`);

  let handle: FileHandle;
  try {
    handle = await open(realPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOENT') throw changed(via);
    throw new HostPathProblem('unreadable', `cannot be read (${code ?? String(error)})${via}`);
  }
  try {
    const opened = await handle.stat();
    if (!opened.isFile() || opened.ino !== before.ino || opened.dev !== before.dev) throw changed(via);
    const procPath = `/proc/${process.pid}/fd/${handle.fd}`;
    const openedPath = await readlink(`/proc/self/fd/${handle.fd}`);
    if (openedPath.endsWith(' (deleted)')) throw changed(via);
    checkLocation(openedPath, roots === null ? null : await realRoots(roots), roots, openedPath === path ? '' : ` (it resolves to ${openedPath})`);
    await refusePseudoFilesystem(procPath, via);
    await checkKind(handle, kind, opened.size, via);
    return { handle, realPath: openedPath, size: opened.size, procPath, close: () => handle.close() };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** openHostFile, closed again: the file is usable as `kind` now. */
export async function checkHostFile(path: string, kind: HostFileKind, roots: readonly string[] | null): Promise<void> {
  const file = await openHostFile(path, kind, roots);
  await file.close();
}

/** The content of a text file (kind 'text': UTF-8, no NUL, at most 1 MiB), read from the file that was checked. */
export async function readHostTextFile(path: string, roots: readonly string[] | null): Promise<string> {
  const file = await openHostFile(path, 'text', roots);
  try {
    return await file.handle.readFile({ encoding: 'utf8' });
  } finally {
    await file.close();
  }
}

/** Files `make modules_install` (modules.order, modules.builtin) or depmod (modules.dep) leave in lib/modules/<version>. */
const moduleIndexFiles = ['modules.dep', 'modules.order', 'modules.builtin'];

/** A kernel's lib/modules/<version>: a directory inside `roots` holding one of its index files. */
export async function checkModulesDir(path: string, roots: readonly string[] | null): Promise<void> {
  const { realPath, via } = await resolveWithin(path, roots);
  const info = await statOrProblem(realPath, via);
  if (info.isSymbolicLink()) throw changed(via);
  if (!info.isDirectory()) throw new HostPathProblem('not-directory', `is not a directory${via}`);
  await refusePseudoFilesystem(realPath, via);
  const indexes = await Promise.all(moduleIndexFiles.map((name) => lstat(join(realPath, name)).catch(() => null)));
  if (!indexes.some((index) => index?.isFile())) {
    throw new HostPathProblem('wrong-kind', `is not a kernel modules dir: it has no ${moduleIndexFiles.join(', ')}${via}`);
  }
}

/** True when `path` is `dir` or lies below it; both absolute and normalised. */
export function isInside(path: string, dir: string): boolean {
  if (dir === '/') return true;
  return path === dir || path.startsWith(`${dir}/`);
}

/** The pseudo filesystem dir `path` is at or below, if any. */
export function pseudoFilesystemDirOf(path: string): string | undefined {
  return pseudoFilesystemDirs.find((dir) => isInside(path, dir));
}

/**
 * The real path of `path`, refused before anything is read when it lies outside the roots: a path
 * outside them is refused on its face, so a request cannot learn which files exist elsewhere.
 */
async function resolveWithin(path: string, roots: readonly string[] | null): Promise<Resolved> {
  if (!isAbsolute(path)) throw new HostPathProblem('missing', 'is not an absolute path');
  const asWritten = normalize(path);
  const resolvedRoots = roots === null ? null : await realRoots(roots);
  if (roots !== null && resolvedRoots !== null && ![...roots, ...resolvedRoots].some((root) => isInside(asWritten, root))) {
    throw outside(roots, '');
  }
  // Refused on its face too: nothing under /proc is even resolved (/proc/self/… names the daemon).
  const pseudo = pseudoFilesystemDirOf(asWritten);
  if (pseudo !== undefined) throw new HostPathProblem('pseudo-filesystem', `is on ${pseudo}, a pseudo filesystem`);
  let realPath: string;
  try {
    realPath = await realpath(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new HostPathProblem('missing', await describeMissing(path));
    throw new HostPathProblem('unreadable', `cannot be resolved (${code ?? String(error)})`);
  }
  const via = realPath === path ? '' : ` (it resolves to ${realPath})`;
  checkLocation(realPath, resolvedRoots, roots, via);
  return { realPath, via };
}

function checkLocation(realPath: string, resolvedRoots: readonly string[] | null, roots: readonly string[] | null, via: string): void {
  const pseudo = pseudoFilesystemDirOf(realPath);
  if (pseudo !== undefined) throw new HostPathProblem('pseudo-filesystem', `is on ${pseudo}, a pseudo filesystem${via}`);
  if (roots !== null && resolvedRoots !== null && !resolvedRoots.some((root) => isInside(realPath, root))) throw outside(roots, via);
}

async function refusePseudoFilesystem(path: string, via: string): Promise<void> {
  const type = pseudoFilesystemTypes.get(Number((await statfs(path)).type));
  if (type !== undefined) throw new HostPathProblem('pseudo-filesystem', `is on a ${type} filesystem, a pseudo filesystem${via}`);
}

/** The real paths of the roots that exist; a root made later counts from then on. */
async function realRoots(roots: readonly string[]): Promise<string[]> {
  const resolved = await Promise.all(roots.map((root) => realpath(root).catch(() => null)));
  return resolved.filter((root): root is string => root !== null);
}

/** lstat: the real path holds no symlink, unless one was put there since it was resolved. */
async function statOrProblem(realPath: string, via: string) {
  try {
    return await lstat(realPath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw changed(via);
    throw new HostPathProblem('unreadable', `cannot be read (${code ?? String(error)})${via}`);
  }
}

async function checkKind(handle: FileHandle, kind: HostFileKind, size: number, via: string): Promise<void> {
  const problem = kind === 'text' ? await textProblem(handle, size) : kindProblem(await readHeader(handle), kind);
  if (problem !== null) throw new HostPathProblem('wrong-kind', `${problem}${via}`);
}

async function readHeader(handle: FileHandle): Promise<Buffer> {
  const header = Buffer.alloc(headerBytes);
  const { bytesRead } = await handle.read(header, 0, headerBytes, 0);
  return header.subarray(0, bytesRead);
}

/** Why the first bytes of a file are not those of `kind`, or null when they are. */
export function kindProblem(header: Buffer, kind: Exclude<HostFileKind, 'text'>): string | null {
  switch (kind) {
    case 'ext4':
      return header.length >= EXT_MAGIC_OFFSET + 2 && header.readUInt16LE(EXT_MAGIC_OFFSET) === EXT_MAGIC
        ? null
        : 'is not an ext4 filesystem image';
    case 'kernel':
      return isBzImage(header) || isElfExecutable(header) ? null : 'is not a Linux kernel image (neither a bzImage nor an ELF vmlinux)';
    case 'initrd':
      return initrdFormats.some(([, magic]) => header.subarray(0, magic.length).equals(magic))
        ? null
        : 'is not an initrd (neither a cpio archive nor gzip, zstd, xz, lz4, bzip2, lzma or lzo compressed)';
  }
}

/** The x86 boot protocol: the boot sector signature and the setup header's "HdrS". */
function isBzImage(header: Buffer): boolean {
  return header.length >= 0x206 && header[0x1fe] === 0x55 && header[0x1ff] === 0xaa && header.toString('latin1', 0x202, 0x206) === 'HdrS';
}

/** An uncompressed vmlinux: an x86 ELF executable (QEMU boots it through its PVH note). */
function isElfExecutable(header: Buffer): boolean {
  if (header.length < 20 || header.toString('latin1', 0, 4) !== '\x7fELF') return false;
  const littleEndian = header[5] === 1;
  const type = littleEndian ? header.readUInt16LE(16) : header.readUInt16BE(16);
  const machine = littleEndian ? header.readUInt16LE(18) : header.readUInt16BE(18);
  const ET_EXEC = 2;
  const EM_386 = 3;
  const EM_X86_64 = 0x3e;
  return type === ET_EXEC && (machine === EM_X86_64 || machine === EM_386);
}

/** What the kernel unpacks as an initramfs: newc/crc cpio (a combined initrd starts with one) or a compressed one. */
const initrdFormats: ReadonlyArray<[string, Buffer]> = [
  ['cpio newc', Buffer.from('070701', 'latin1')],
  ['cpio crc', Buffer.from('070702', 'latin1')],
  ['gzip', Buffer.from([0x1f, 0x8b])],
  ['zstd', Buffer.from([0x28, 0xb5, 0x2f, 0xfd])],
  ['xz', Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])],
  ['lz4 legacy', Buffer.from([0x02, 0x21, 0x4c, 0x18])],
  ['lz4', Buffer.from([0x04, 0x22, 0x4d, 0x18])],
  ['bzip2', Buffer.from('BZh', 'latin1')],
  ['lzma', Buffer.from([0x5d, 0x00, 0x00])],
  ['lzo', Buffer.from([0x89, 0x4c, 0x5a, 0x4f])],
];

async function textProblem(handle: FileHandle, size: number): Promise<string | null> {
  if (size > maxTextFileBytes) return `is ${size} bytes, more than a text list may be (1 MiB)`;
  const buffer = Buffer.alloc(maxTextFileBytes + 1);
  const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
  if (bytesRead > maxTextFileBytes) return 'is more than a text list may be (1 MiB)';
  const content = buffer.subarray(0, bytesRead);
  if (content.includes(0)) return 'is not a text file (it holds NUL bytes)';
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(content);
  } catch {
    return 'is not a text file (it is not UTF-8)';
  }
  return null;
}

function describeType(info: { isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  if (info.isDirectory()) return 'is a directory';
  if (info.isFIFO()) return 'is a fifo';
  if (info.isSocket()) return 'is a socket';
  if (info.isCharacterDevice()) return 'is a character device';
  if (info.isBlockDevice()) return 'is a block device';
  return 'is not a regular file';
}

async function describeMissing(path: string): Promise<string> {
  try {
    const link = await lstat(path);
    if (link.isSymbolicLink()) return `is a symlink to ${await readlink(path)}, which does not exist`;
  } catch {
    // The path itself is missing: the plain message below says so.
  }
  return 'does not exist';
}

function outside(roots: readonly string[], via: string): HostPathProblem {
  return new HostPathProblem('outside-roots', `is outside the import roots (${roots.join(':')})${via}`);
}

function changed(via: string): HostPathProblem {
  return new HostPathProblem('changed', `changed while it was being checked${via}`);
}
