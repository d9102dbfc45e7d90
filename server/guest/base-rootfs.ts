import { chmod, chown, link, lstat, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isExt4 } from '../host/ext4.js';
import { run, type LogSink } from '../host/runner.js';
import { privateNamespaceArgs, withAptMessage } from './debian/apt-run.js';
import { debianGuestFiles } from './debian/guest-spec.js';
import { checkPackageNames, missingPackages, readInstalledPackages, type InstalledPackage } from './debian/packages.js';

export interface ExtractOptions {
  signal?: AbortSignal;
  log?: LogSink;
}

export class NotExt4Error extends Error {
  constructor(readonly path: string) {
    super(`${path} is not an ext4 filesystem image`);
    this.name = 'NotExt4Error';
  }
}

const DEBUGFS_TIMEOUT_MS = 15 * 60 * 1000;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

// Same reasons as in host/ext4.ts: no pager, untranslated messages.
const debugfsEnv = (): NodeJS.ProcessEnv => ({ ...process.env, DEBUGFS_PAGER: '__none__', PAGER: '__none__', LC_ALL: 'C' });

/** debugfs splits its arguments on whitespace, groups them with double quotes and has no escapes. */
function debugfsArg(path: string): string | null {
  return /["\n\r\0]/.test(path) ? null : `"${path}"`;
}

function say(log: LogSink | undefined, message: string): void {
  try {
    log?.write(`${message}\n`);
  } catch {
    // A broken log must not fail the extraction.
  }
}

/** Lines on debugfs's stderr other than its version banner: it exits 0 on most errors. */
function debugfsComplaints(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !/^debugfs \d/.test(line));
}

/** Runs debugfs commands from a file (one per line); returns stdout split at each command's echo. */
async function debugfsBatch(image: string, commands: string[], options: ExtractOptions): Promise<{ sections: string[][]; problems: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'banger-debugfs-'));
  try {
    const file = join(dir, 'commands');
    await writeFile(file, `${commands.join('\n')}\n`, { mode: 0o600 });
    const result = await run('debugfs', ['-f', file, image], { env: debugfsEnv(), timeoutMs: DEBUGFS_TIMEOUT_MS, signal: options.signal });
    return { sections: splitDebugfsOutput(result.stdout), problems: debugfsComplaints(result.stderr) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** debugfs -f echoes each command as `debugfs: <command>` before its output. */
export function splitDebugfsOutput(stdout: string): string[][] {
  const sections: string[][] = [];
  for (const line of stdout.split('\n')) {
    if (line.startsWith('debugfs: ')) sections.push([]);
    else if (line !== '') sections.at(-1)?.push(line);
  }
  return sections;
}

export interface DebugfsEntry {
  inode: number;
  mode: number;
  uid: number;
  gid: number;
  name: string;
}

/** One line of `ls -p`: `/inode/mode/uid/gid/name/size/`; null for anything else. */
export function parseLsLine(line: string): DebugfsEntry | null {
  if (!line.startsWith('/') || !line.endsWith('/')) return null;
  const parts = line.slice(1, -1).split('/');
  // A name cannot hold a slash, so anything but six fields is not an entry (or a name with a newline).
  if (parts.length !== 6) return null;
  const [inode, mode, uid, gid, name] = parts as [string, string, string, string, string, string];
  if (!/^\d+$/.test(inode) || !/^[0-7]+$/.test(mode) || !/^\d+$/.test(uid) || !/^\d+$/.test(gid) || name === '') return null;
  return { inode: Number(inode), mode: Number.parseInt(mode, 8), uid: Number(uid), gid: Number(gid), name };
}

/** Major and minor number from `stat` output of a device inode. */
export function parseDeviceNumbers(statLines: readonly string[]): { major: number; minor: number } | null {
  for (const line of statLines) {
    const match = /Device major\/minor number:\s*(\d+):(\d+)/.exec(line);
    if (match?.[1] && match[2]) return { major: Number(match[1]), minor: Number(match[2]) };
  }
  return null;
}

async function listDirs(treeDir: string): Promise<string[]> {
  const rootDir = resolve(treeDir);
  const entries = await readdir(rootDir, { recursive: true, withFileTypes: true });
  const dirs = entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => join(entry.parentPath, entry.name).slice(rootDir.length) || '/');
  return ['/', ...dirs.filter((dir) => dir !== '/')];
}

interface Special {
  path: string;
  guestPath: string;
  entry: DebugfsEntry;
}

/**
 * debugfs rdump writes owners and rwx bits but drops setuid, setgid and sticky
 * bits, device nodes and FIFOs, and turns hard links into copies. This puts them
 * back from the image's own directory listings.
 */
async function restoreWhatRdumpDrops(image: string, rootDir: string, options: ExtractOptions): Promise<{ modes: number; links: number; nodes: number }> {
  const dirs = await listDirs(rootDir);
  const listed: string[] = [];
  const commands: string[] = [];
  for (const dir of dirs) {
    const arg = debugfsArg(dir);
    if (arg === null) {
      say(options.log, `extract: cannot ask debugfs about ${JSON.stringify(dir)}; its entries keep rdump's modes`);
      continue;
    }
    listed.push(dir);
    commands.push(`ls -p ${arg}`);
  }
  const { sections, problems } = await debugfsBatch(image, commands, options);
  if (problems.length > 0 || sections.length !== listed.length) {
    throw new Error(`debugfs could not list ${image}: ${problems.slice(0, 5).join('; ') || `${sections.length} listings for ${listed.length} directories`}`);
  }

  let modes = 0;
  let links = 0;
  const firstPathOfInode = new Map<number, string>();
  const devices: Special[] = [];
  const fifos: Special[] = [];
  for (const [index, lines] of sections.entries()) {
    const dir = listed[index] as string;
    for (const line of lines) {
      const entry = parseLsLine(line);
      if (entry === null || entry.name === '..') continue;
      const guestPath = entry.name === '.' ? dir : `${dir === '/' ? '' : dir}/${entry.name}`;
      const path = join(rootDir, guestPath);
      const type = entry.mode & S_IFMT;
      if (type === S_IFDIR) {
        // Each directory is described by its own listing's "." entry.
        if (entry.name !== '.') continue;
        if ((entry.mode & 0o7000) !== 0 || guestPath === '/') {
          await chmod(path, entry.mode & 0o7777);
          if (guestPath === '/') await chown(path, entry.uid, entry.gid);
          modes++;
        }
      } else if (type === S_IFREG) {
        const first = firstPathOfInode.get(entry.inode);
        if (first !== undefined && first !== path) {
          await rm(path, { force: true });
          await link(first, path);
          links++;
          continue;
        }
        firstPathOfInode.set(entry.inode, path);
        if ((entry.mode & 0o7000) !== 0) {
          await chmod(path, entry.mode & 0o7777);
          modes++;
        }
      } else if (type === S_IFCHR || type === S_IFBLK) {
        devices.push({ path, guestPath, entry });
      } else if (type === S_IFIFO) {
        fifos.push({ path, guestPath, entry });
      }
      // Sockets belong to a running system, not an image; symlinks came through intact.
    }
  }

  let nodes = 0;
  const numbered: { special: Special; numbers: { major: number; minor: number } }[] = [];
  const statable = devices.filter((device) => debugfsArg(device.guestPath) !== null);
  if (statable.length > 0) {
    const result = await debugfsBatch(image, statable.map((device) => `stat ${debugfsArg(device.guestPath) as string}`), options);
    for (const [index, device] of statable.entries()) {
      const numbers = parseDeviceNumbers(result.sections[index] ?? []);
      if (numbers === null) throw new Error(`debugfs gave no device numbers for ${device.guestPath} in ${image}`);
      numbered.push({ special: device, numbers });
    }
  }
  const mode = (entry: DebugfsEntry): string => (entry.mode & 0o7777).toString(8);
  for (const { special, numbers } of numbered) {
    const kind = (special.entry.mode & S_IFMT) === S_IFCHR ? 'c' : 'b';
    await rm(special.path, { force: true });
    await run('mknod', ['-m', mode(special.entry), '--', special.path, kind, String(numbers.major), String(numbers.minor)], { signal: options.signal, timeoutMs: 30_000 });
    await chown(special.path, special.entry.uid, special.entry.gid);
    nodes++;
  }
  for (const fifo of fifos) {
    await rm(fifo.path, { force: true });
    await run('mknod', ['-m', mode(fifo.entry), '--', fifo.path, 'p'], { signal: options.signal, timeoutMs: 30_000 });
    await chown(fifo.path, fifo.entry.uid, fifo.entry.gid);
    nodes++;
  }
  return { modes, links, nodes };
}

/**
 * Copies the whole filesystem of an ext4 image into rootDir (empty or absent)
 * without mounting it: debugfs rdump, then the modes, hard links and special
 * files rdump leaves out. Extended attributes (file capabilities, SELinux
 * labels) are not copied. Run as root, or owners are lost.
 */
export async function extractBaseRootfs(ext4Path: string, rootDir: string, options: ExtractOptions = {}): Promise<void> {
  const { signal, log } = options;
  if (!(await isExt4(ext4Path))) throw new NotExt4Error(ext4Path);
  if (process.getuid?.() !== 0) throw new Error('extracting a base rootfs needs root to keep owners and device nodes');
  const target = debugfsArg(rootDir);
  if (target === null) throw new Error(`cannot pass ${JSON.stringify(rootDir)} to debugfs`);
  await mkdir(rootDir, { recursive: true });
  if ((await readdir(rootDir)).length > 0) throw new Error(`${rootDir} is not empty`);

  const started = Date.now();
  say(log, `extract: rdump of ${ext4Path} into ${rootDir}`);
  const result = await run('debugfs', ['-R', `rdump / ${target}`, ext4Path], {
    env: debugfsEnv(),
    timeoutMs: DEBUGFS_TIMEOUT_MS,
    signal,
    log,
  });
  const problems = debugfsComplaints(result.stderr);
  if (problems.length > 0) throw new Error(`debugfs could not extract ${ext4Path}: ${problems.slice(0, 5).join('; ')}`);
  signal?.throwIfAborted();
  const restored = await restoreWhatRdumpDrops(ext4Path, rootDir, options);
  // mkfs.ext4 makes its own; a copied one would only be an ordinary directory.
  const lostFound = join(rootDir, 'lost+found');
  if ((await lstat(lostFound).catch(() => null))?.isDirectory() && (await readdir(lostFound)).length === 0) await rm(lostFound, { recursive: true });
  say(
    log,
    `extract: done in ${((Date.now() - started) / 1000).toFixed(1)} s; restored ${restored.modes} special modes, ` +
      `${restored.links} hard links, ${restored.nodes} device nodes and FIFOs`,
  );
}

export interface InstallPackagesOptions {
  /** Default 30 minutes. */
  timeoutMs?: number;
  signal?: AbortSignal;
  log?: LogSink;
  onSpawn?: (pid: number) => void;
}

const INSTALL_TIMEOUT_MS = 30 * 60 * 1000;
const PROXY_VARIABLES = ['http_proxy', 'https_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY'];

/** The environment apt and maintainer scripts see in the chroot: the guest's, not the daemon's. */
function chrootEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/root',
    LC_ALL: 'C',
    DEBIAN_FRONTEND: 'noninteractive',
  };
  for (const name of PROXY_VARIABLES) if (process.env[name] !== undefined) env[name] = process.env[name];
  return env;
}

/**
 * Installs Debian packages (and their dependencies) into a Debian tree, e.g. one
 * from extractBaseRootfs, with the tree's own apt and sources: apt-get update,
 * install without recommends, clean. apt runs chrooted inside private mount and
 * PID namespaces (server/guest/files/debian/chroot-apt), so the host's mount table
 * is never touched and cancelling kills every process it started. Returns the
 * packages installed afterwards.
 */
export async function installPackagesInto(rootDir: string, packages: readonly string[], options: InstallPackagesOptions = {}): Promise<InstalledPackage[]> {
  checkPackageNames(packages);
  if (packages.length === 0) return readInstalledPackages(rootDir);
  if (process.getuid?.() !== 0) throw new Error('installing packages into a tree needs root (chroot, mounts)');
  const args = [...privateNamespaceArgs(join(rootDir, 'proc')), 'sh', debianGuestFiles.chrootApt, rootDir, ...packages];
  try {
    await run('unshare', args, {
      env: chrootEnv(),
      timeoutMs: options.timeoutMs ?? INSTALL_TIMEOUT_MS,
      signal: options.signal,
      log: options.log,
      onSpawn: options.onSpawn,
    });
  } catch (error) {
    throw withAptMessage(error, 'apt-get');
  }
  const installed = await readInstalledPackages(rootDir);
  const missing = missingPackages(packages, installed);
  if (missing.length > 0) throw new Error(`packages missing after apt-get install: ${missing.join(', ')}`);
  return installed;
}
