import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, type LogSink } from './runner.js';

export interface Ext4Options {
  signal?: AbortSignal;
  log?: LogSink;
}

export interface MakeExt4Options extends Ext4Options {
  /** Populate the new filesystem from this host directory (mkfs.ext4 -d). */
  fromDir?: string;
  label?: string;
}

export interface Ext4Stat {
  /** Permission bits only, e.g. 0o600. */
  mode: number;
  uid: number;
  gid: number;
  type: 'file' | 'dir' | 'other';
}

export class Ext4Error extends Error {
  constructor(
    message: string,
    readonly code: 'ENOENT' | 'EDEBUGFS',
  ) {
    super(message);
    this.name = 'Ext4Error';
  }
}

const MKFS_TIMEOUT_MS = 30 * 60 * 1000;
const DEBUGFS_TIMEOUT_MS = 5 * 60 * 1000;
const EXT_SUPERBLOCK_OFFSET = 1024;
const EXT_MAGIC_OFFSET = EXT_SUPERBLOCK_OFFSET + 56;
const EXT_MAGIC = 0xef53;

// debugfs pipes stat output through $PAGER unless told not to, and its error
// texts (which we match on) are translated under other locales.
const debugfsEnv = (): NodeJS.ProcessEnv => ({ ...process.env, DEBUGFS_PAGER: '__none__', PAGER: '__none__', LC_ALL: 'C' });

/**
 * debugfs has its own argv splitting: whitespace separates arguments and double
 * quotes group them. It has no escape for a quote or newline, so refuse those.
 */
function debugfsQuote(path: string): string {
  if (/["\n\r\0]/.test(path)) throw new Error(`path cannot be passed to debugfs: ${JSON.stringify(path)}`);
  return `"${path}"`;
}

function checkImagePath(pathInImage: string): void {
  if (!pathInImage.startsWith('/')) throw new Error(`path inside the image must be absolute: ${pathInImage}`);
}

/**
 * debugfs reports most failures on stderr and still exits 0, so anything there
 * besides its version banner is treated as an error.
 */
function debugfsComplaints(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !/^debugfs \d/.test(line));
}

async function debugfsRequest(imagePath: string, request: string, options: Ext4Options = {}): Promise<{ stdout: string; problems: string[] }> {
  const result = await run('debugfs', ['-R', request, imagePath], {
    env: debugfsEnv(),
    timeoutMs: DEBUGFS_TIMEOUT_MS,
    signal: options.signal,
  });
  return { stdout: result.stdout, problems: debugfsComplaints(result.stderr) };
}

const isNotFound = (problems: string[]): boolean => problems.some((line) => line.includes('File not found by ext2_lookup'));

/** Creates a sparse file of sizeBytes and formats it as ext4 with root-owned root directory. */
export async function makeExt4(path: string, sizeBytes: number, options: MakeExt4Options = {}): Promise<void> {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) throw new Error(`invalid filesystem size: ${sizeBytes}`);
  if (options.label !== undefined && Buffer.byteLength(options.label) > 16) {
    // mkfs would silently truncate it, and the label is how the guest finds the disk.
    throw new Error(`ext4 label longer than 16 bytes: ${options.label}`);
  }

  // Truncating an emptied file allocates nothing, so the image costs only what
  // mkfs (and -d) actually write.
  const handle = await open(path, 'w', 0o644);
  try {
    await handle.truncate(sizeBytes);
  } finally {
    await handle.close();
  }

  const args = ['-F', '-q', '-E', 'root_owner=0:0'];
  if (options.label !== undefined) args.push('-L', options.label);
  if (options.fromDir !== undefined) args.push('-d', options.fromDir);
  args.push(path);
  try {
    await run('mkfs.ext4', args, { timeoutMs: MKFS_TIMEOUT_MS, signal: options.signal, log: options.log });
  } catch (error) {
    // A half-formatted image is worse than none: it would pass isExt4.
    await rm(path, { force: true });
    throw error;
  }
}

/** True when the file carries the ext2/3/4 superblock magic (the ext4 driver mounts all three). */
export async function isExt4(path: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  try {
    const buffer = Buffer.alloc(2);
    const { bytesRead } = await handle.read(buffer, 0, 2, EXT_MAGIC_OFFSET);
    return bytesRead === 2 && buffer.readUInt16LE(0) === EXT_MAGIC;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EISDIR') return false;
    throw error;
  } finally {
    await handle.close();
  }
}

export async function readFileFromExt4(imagePath: string, pathInImage: string, options: Ext4Options = {}): Promise<string> {
  checkImagePath(pathInImage);
  const { stdout, problems } = await debugfsRequest(imagePath, `cat ${debugfsQuote(pathInImage)}`, options);
  if (isNotFound(problems)) throw new Ext4Error(`${pathInImage} not found in ${imagePath}`, 'ENOENT');
  if (problems.length > 0) throw new Ext4Error(`debugfs could not read ${pathInImage} from ${imagePath}: ${problems.join('; ')}`, 'EDEBUGFS');
  return stdout;
}

/** Owner and permissions of a path inside the image, without following a final symlink; null if absent. */
export async function statInExt4(imagePath: string, pathInImage: string, options: Ext4Options = {}): Promise<Ext4Stat | null> {
  checkImagePath(pathInImage);
  const { stdout, problems } = await debugfsRequest(imagePath, `stat ${debugfsQuote(pathInImage)}`, options);
  if (isNotFound(problems)) return null;
  if (problems.length > 0) throw new Ext4Error(`debugfs could not stat ${pathInImage} in ${imagePath}: ${problems.join('; ')}`, 'EDEBUGFS');

  const type = /\bType:\s+(\S+)/.exec(stdout)?.[1];
  const mode = /\bMode:\s+([0-7]+)/.exec(stdout)?.[1];
  const owner = /\bUser:\s+(\d+)\s+Group:\s+(\d+)/.exec(stdout);
  if (type === undefined || mode === undefined || !owner?.[1] || !owner[2]) {
    throw new Ext4Error(`unexpected debugfs stat output for ${pathInImage} in ${imagePath}`, 'EDEBUGFS');
  }
  return {
    mode: Number.parseInt(mode, 8),
    uid: Number(owner[1]),
    gid: Number(owner[2]),
    type: type === 'regular' ? 'file' : type === 'directory' ? 'dir' : 'other',
  };
}

/**
 * Installs publicKeyLine as the only entry of /.ssh/authorized_keys in a work-seed
 * image (an ext4 filesystem that becomes the guest's /root), without mounting it.
 * The image must not be in use by a running guest.
 */
export async function seedAuthorizedKey(imagePath: string, publicKeyLine: string, options: Ext4Options = {}): Promise<void> {
  const keyLine = publicKeyLine.trim();
  if (keyLine === '' || /[\r\n]/.test(keyLine)) throw new Error('public key must be a single non-empty line');
  const content = `${keyLine}\n`;
  if (!(await isExt4(imagePath))) throw new Ext4Error(`${imagePath} is not an ext4 image`, 'EDEBUGFS');

  // Decide from the current state: debugfs would happily set a directory mode on
  // a regular file, which corrupts the filesystem instead of failing.
  const sshDir = await statInExt4(imagePath, '/.ssh', options);
  if (sshDir !== null && sshDir.type !== 'dir') {
    throw new Ext4Error(`/.ssh in ${imagePath} exists but is not a directory`, 'EDEBUGFS');
  }
  const existing = await statInExt4(imagePath, '/.ssh/authorized_keys', options);
  if (existing?.type === 'dir') {
    throw new Ext4Error(`/.ssh/authorized_keys in ${imagePath} is a directory`, 'EDEBUGFS');
  }

  // A private directory, so nobody can swap the key file before debugfs reads it.
  const workDir = await mkdtemp(join(tmpdir(), 'banger-seed-'));
  try {
    const keyFile = join(workDir, 'authorized_keys');
    await writeFile(keyFile, content, { mode: 0o600 });

    const commands: string[] = [];
    if (sshDir === null) commands.push('mkdir /.ssh');
    commands.push(
      'set_inode_field /.ssh mode 040700',
      'set_inode_field /.ssh uid 0',
      'set_inode_field /.ssh gid 0',
    );
    // write refuses to replace an existing file.
    if (existing !== null) commands.push('rm /.ssh/authorized_keys');
    commands.push(
      `write ${debugfsQuote(keyFile)} /.ssh/authorized_keys`,
      'set_inode_field /.ssh/authorized_keys mode 0100600',
      'set_inode_field /.ssh/authorized_keys uid 0',
      'set_inode_field /.ssh/authorized_keys gid 0',
    );
    const commandFile = join(workDir, 'commands');
    await writeFile(commandFile, `${commands.join('\n')}\n`, { mode: 0o600 });

    const result = await run('debugfs', ['-w', '-f', commandFile, imagePath], {
      env: debugfsEnv(),
      timeoutMs: DEBUGFS_TIMEOUT_MS,
      signal: options.signal,
      log: options.log,
    });
    const problems = debugfsComplaints(result.stderr);

    // The exit status says nothing, so the outcome is judged by reading it back.
    const dirAfter = await statInExt4(imagePath, '/.ssh', options);
    const fileAfter = await statInExt4(imagePath, '/.ssh/authorized_keys', options);
    const ok =
      dirAfter?.type === 'dir' && dirAfter.mode === 0o700 && dirAfter.uid === 0 && dirAfter.gid === 0 &&
      fileAfter?.type === 'file' && fileAfter.mode === 0o600 && fileAfter.uid === 0 && fileAfter.gid === 0 &&
      (await readFileFromExt4(imagePath, '/.ssh/authorized_keys', options)) === content;
    if (!ok) {
      const detail = problems.length > 0 ? `: ${problems.join('; ')}` : '';
      throw new Ext4Error(`could not install authorized_keys into ${imagePath}${detail}`, 'EDEBUGFS');
    }
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
