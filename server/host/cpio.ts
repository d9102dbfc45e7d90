/**
 * Writer for the "newc" cpio format (magic 070701), the only format the kernel
 * unpacks as an initramfs. Writing it here instead of piping `find | cpio`
 * avoids a shell pipeline and lets an unprivileged build add device nodes and
 * root-owned files that it could not create on disk.
 */

export type CpioEntry =
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; data: Buffer | string; mode?: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'char' | 'block'; path: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;

const TRAILER = 'TRAILER!!!';
const MAX_FIELD = 0xffffffff;

function hex8(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > MAX_FIELD) throw new Error(`cpio field out of range: ${value}`);
  return value.toString(16).padStart(8, '0');
}

/** Padding that brings `length` up to the next multiple of 4, as newc requires after names and data. */
function pad4(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

/** Archive paths are relative ("bin/sh"); the kernel resolves them against the initramfs root. */
export function normalizeCpioPath(path: string): string {
  const parts = path.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.some((part) => part === '..')) throw new Error(`cpio path may not contain "..": ${path}`);
  if (parts.some((part) => part.includes('\0'))) throw new Error(`cpio path may not contain NUL: ${JSON.stringify(path)}`);
  return parts.length === 0 ? '.' : parts.join('/');
}

interface RawHeader {
  ino: number;
  mode: number;
  nlink: number;
  fileSize: number;
  rdevMajor: number;
  rdevMinor: number;
  name: string;
}

function header(raw: RawHeader): Buffer {
  const name = Buffer.from(`${raw.name}\0`, 'utf8');
  const fields = [
    '070701',
    hex8(raw.ino),
    hex8(raw.mode),
    hex8(0), // uid: everything in an initramfs belongs to root
    hex8(0), // gid
    hex8(raw.nlink),
    // A fixed mtime keeps archives byte-identical across builds of the same inputs.
    hex8(0),
    hex8(raw.fileSize),
    hex8(0), // devmajor/devminor of the filesystem the file came from: meaningless here
    hex8(0),
    hex8(raw.rdevMajor),
    hex8(raw.rdevMinor),
    hex8(name.length),
    hex8(0), // check: only used by the 070702 ("crc") variant
  ].join('');
  const head = Buffer.concat([Buffer.from(fields, 'ascii'), name]);
  return Buffer.concat([head, pad4(head.length)]);
}

/**
 * Encodes entries, in the order given, as an uncompressed newc archive. Parents
 * must precede their children: the kernel does not create missing directories.
 */
export function encodeCpio(entries: readonly CpioEntry[]): Buffer {
  const chunks: Buffer[] = [];
  const seen = new Set<string>();
  let ino = 1;
  for (const entry of entries) {
    const name = normalizeCpioPath(entry.path);
    if (seen.has(name)) throw new Error(`duplicate cpio entry: ${name}`);
    seen.add(name);

    let mode: number;
    let data: Buffer = Buffer.alloc(0);
    let rdevMajor = 0;
    let rdevMinor = 0;
    let nlink = 1;
    switch (entry.type) {
      case 'dir':
        mode = S_IFDIR | ((entry.mode ?? 0o755) & 0o7777);
        nlink = 2;
        break;
      case 'file':
        mode = S_IFREG | ((entry.mode ?? 0o644) & 0o7777);
        data = typeof entry.data === 'string' ? Buffer.from(entry.data, 'utf8') : entry.data;
        break;
      case 'symlink':
        mode = S_IFLNK | 0o777;
        data = Buffer.from(entry.target, 'utf8');
        break;
      case 'char':
      case 'block':
        mode = (entry.type === 'char' ? S_IFCHR : S_IFBLK) | ((entry.mode ?? 0o600) & 0o7777);
        rdevMajor = entry.major;
        rdevMinor = entry.minor;
        break;
    }
    chunks.push(header({ ino: ino++, mode, nlink, fileSize: data.length, rdevMajor, rdevMinor, name }));
    if (data.length > 0) chunks.push(data, pad4(data.length));
  }
  chunks.push(header({ ino: 0, mode: 0, nlink: 1, fileSize: 0, rdevMajor: 0, rdevMinor: 0, name: TRAILER }));
  return Buffer.concat(chunks);
}

export interface DecodedCpioEntry {
  name: string;
  mode: number;
  rdevMajor: number;
  rdevMinor: number;
  data: Buffer;
}

/** Reads a newc archive back; used to check what a built initrd contains. */
export function decodeCpio(archive: Buffer): DecodedCpioEntry[] {
  const entries: DecodedCpioEntry[] = [];
  let offset = 0;
  const field = (start: number, index: number): number =>
    Number.parseInt(archive.toString('ascii', start + 6 + index * 8, start + 14 + index * 8), 16);
  for (;;) {
    if (offset + 110 > archive.length) throw new Error('truncated cpio archive: no trailer');
    const magic = archive.toString('ascii', offset, offset + 6);
    if (magic !== '070701' && magic !== '070702') throw new Error(`bad cpio magic at offset ${offset}: ${JSON.stringify(magic)}`);
    const mode = field(offset, 1);
    const fileSize = field(offset, 6);
    const rdevMajor = field(offset, 9);
    const rdevMinor = field(offset, 10);
    const nameSize = field(offset, 11);
    const nameStart = offset + 110;
    const name = archive.toString('utf8', nameStart, nameStart + nameSize - 1);
    const dataStart = nameStart + nameSize + ((4 - ((110 + nameSize) % 4)) % 4);
    if (name === TRAILER) return entries;
    const dataEnd = dataStart + fileSize;
    if (dataEnd > archive.length) throw new Error(`truncated cpio entry ${name}`);
    entries.push({ name, mode, rdevMajor, rdevMinor, data: archive.subarray(dataStart, dataEnd) });
    offset = dataEnd + ((4 - (fileSize % 4)) % 4);
  }
}
