import { createHash, type Hash } from 'node:crypto';
import { posix } from 'node:path';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type ssh2 from 'ssh2';
import type { GuestShell } from '../../guest/guest-shell.js';
import { BangerError, validationError } from '../errors.js';
import { newId } from '../ids.js';
import { startGuestCommand } from '../exec/guest-command.js';
import { prepareCommand, type GuestShells } from '../exec/guest-shells.js';
import type { VmService } from '../vms/vm-service.js';
import { formatFileMode, normalizeGuestPath } from './guest-path.js';
import { SftpDownload } from './sftp-download.js';
import { SftpUpload } from './sftp-upload.js';

/**
 * Files in running guests over SFTP on the VM's shell connection, and directories as tar streams
 * through the guest's own tar. Everything streams: a file goes from the request to the guest in
 * SSH-window-sized pieces and never sits whole in the daemon. Knows nothing of HTTP.
 */

export interface WriteOptions {
  /** Permission bits; default the replaced file's, else 0644 (directories: as the archive says). */
  mode?: number;
  /** Create missing parent directories (0755) instead of answering 404. */
  mkdirs?: boolean;
}

export interface WrittenPath {
  path: string;
  type: 'file' | 'directory';
  /** The bytes received: the file's size, or the tar archive's. */
  sizeBytes: number;
  /** Of the file's content, as written (files only). */
  sha256?: string;
  /** Octal permission bits, as "0644" (files only). */
  mode?: string;
}

export type GuestRead =
  | { type: 'file'; path: string; sizeBytes: number; mode: string; stream: Readable }
  | { type: 'directory'; path: string; stream: Readable };

const DEFAULT_FILE_MODE = 0o644;
const SFTP_NO_SUCH_FILE = 2;
const SFTP_PERMISSION_DENIED = 3;
// Free space under which a failed write is taken for a full disk (what is left is reserved or slack).
const FULL_DISK_BYTES = 1024 * 1024;

export class FileService {
  /** One SFTP session per connection, shared by every file call on that VM. */
  private readonly sessions = new WeakMap<GuestShell, Promise<ssh2.SFTPWrapper>>();

  constructor(
    private readonly vms: VmService,
    private readonly shells: GuestShells,
  ) {}

  /** A regular file's bytes, or a directory as a tar stream; symlinks are followed. */
  async read(idOrName: string, rawPath: string): Promise<GuestRead> {
    const path = checkedPath(rawPath);
    const { shell, vmName } = await this.connect(idOrName);
    const sftp = await this.sftp(shell, vmName);
    const stats = await stat(sftp, path);
    if (stats === null) throw notFound(vmName, path);
    if (stats.isDirectory()) {
      const command = prepareCommand(shell, vmName, { command: ['tar', '-c', '-f', '-', '-C', path, '.'] });
      const tar = await startGuestCommand(shell.client, command).catch((error: unknown) => {
        throw unreachable(vmName, error);
      });
      // Ended only once tar's exit is known: a failed tar must not look like a complete archive.
      const body = new PassThrough();
      tar.stdout.pipe(body, { end: false });
      void tar.exit.then(({ exitCode, stderr }) => {
        if (exitCode === 0) body.end();
        else body.destroy(new Error(`tar in the guest failed (exit ${exitCode}): ${stderr}`));
      });
      body.once('close', () => {
        if (!body.writableFinished) tar.kill();
      });
      return { type: 'directory', path, stream: body };
    }
    if (!stats.isFile()) {
      throw new BangerError('guest-path-conflict', `${path} in VM ${vmName} is neither a regular file nor a directory`, {
        hint: 'only regular files and directories can be copied out',
      });
    }
    return { type: 'file', path, sizeBytes: stats.size, mode: formatFileMode(stats.mode), stream: new SftpDownload(sftp, path, stats.size) };
  }

  /**
   * Writes source to a file in the guest: into a new file beside it, renamed over the path once
   * complete, so a transfer that breaks off leaves the old file (or none) and no partial one.
   */
  async writeFile(idOrName: string, rawPath: string, source: Readable, options: WriteOptions = {}): Promise<WrittenPath> {
    const path = checkedPath(rawPath);
    const { shell, vmName } = await this.connect(idOrName);
    const sftp = await this.sftp(shell, vmName);
    const parent = await this.parentDirectory(sftp, vmName, path, options);
    const existing = await stat(sftp, path);
    if (existing?.isDirectory()) {
      throw new BangerError('guest-path-conflict', `${path} in VM ${vmName} is a directory`, {
        hint: 'name a file inside it (banger vm cp: end the guest path with /), or send a tar archive (application/x-tar) to fill the directory',
      });
    }
    if (existing !== null && !existing.isFile()) {
      throw new BangerError('guest-path-conflict', `${path} in VM ${vmName} is neither a regular file nor a directory`, { hint: 'remove it first, or choose another path' });
    }
    const mode = options.mode ?? (existing ? existing.mode & 0o7777 : DEFAULT_FILE_MODE);
    const temporary = posix.join(parent, `.banger-upload-${newId()}`);
    const counter = byteCounter(createHash('sha256'));
    try {
      await pipeline(source, counter.stream, new SftpUpload(sftp, temporary, 0o600));
      // Set after writing: the mode at open passes through the SFTP server's umask.
      await call((done) => sftp.chmod(temporary, mode, done));
      await call((done) => sftp.ext_openssh_rename(temporary, path, done));
    } catch (error) {
      // Judged before the partial file goes, which frees the space that ran out.
      const failure = await this.writeFailure(sftp, vmName, path, parent, error);
      await call((done) => sftp.unlink(temporary, done)).catch(() => {});
      throw failure;
    }
    return { path, type: 'file', sizeBytes: counter.bytes(), sha256: counter.hash?.digest('hex'), mode: formatFileMode(mode) };
  }

  /**
   * Unpacks a tar stream into a directory of the guest with the guest's tar: into a new
   * directory beside it first, then moved into place (or merged into an existing one with cp -a),
   * so a transfer that breaks off changes nothing.
   */
  async writeDirectory(idOrName: string, rawPath: string, source: Readable, options: WriteOptions = {}): Promise<WrittenPath> {
    const path = checkedPath(rawPath);
    const { shell, vmName } = await this.connect(idOrName);
    const sftp = await this.sftp(shell, vmName);
    const parent = path === '/' ? '/' : await this.parentDirectory(sftp, vmName, path, options);
    const existing = await stat(sftp, path);
    if (existing !== null && !existing.isDirectory()) {
      throw new BangerError('guest-path-conflict', `${path} in VM ${vmName} exists and is not a directory`, {
        hint: 'send a single file as application/octet-stream, or choose a directory path',
      });
    }
    const temporary = posix.join(parent, `.banger-upload-${newId()}`);
    const script = [
      'dest=$1 tmp=$2',
      'mkdir "$tmp" || exit 90',
      "trap 'rm -rf \"$tmp\"' EXIT",
      'tar -x -f - -C "$tmp" || exit 91',
      'if [ -d "$dest" ]; then cp -af "$tmp"/. "$dest"/ || exit 92; else mv "$tmp" "$dest" || exit 93; fi',
    ].join('\n');
    const command = prepareCommand(shell, vmName, { command: ['sh', '-c', script, 'sh', path, temporary] });
    const tar = await startGuestCommand(shell.client, command).catch((error: unknown) => {
      throw unreachable(vmName, error);
    });
    // Unread, the channel would never end, and its exit never come.
    tar.stdout.resume();
    const counter = byteCounter();
    try {
      await pipeline(source, counter.stream, tar.stdin);
    } catch (error) {
      // A cut archive must not be unpacked as if whole: the trap removes what was extracted.
      tar.kill();
      await tar.exit;
      throw error;
    }
    const { exitCode, stderr } = await tar.exit;
    if (exitCode !== 0) {
      const full = await diskFull(sftp, parent);
      if (full) throw full(vmName, path);
      if (exitCode === 91) {
        throw validationError('The body is not a tar archive the guest can unpack', [
          { field: 'body', message: `tar in the guest: ${stderr || `exit ${exitCode}`}`, hint: 'send a tar archive (e.g. tar -c -C DIR .); nothing was unpacked' },
        ]);
      }
      throw new BangerError('guest-file-failed', `Unpacking into ${path} in VM ${vmName} failed (exit ${exitCode}): ${stderr || 'no message'}`, {
        hint: 'the message is the guest tool’s; nothing was changed',
      });
    }
    return { path, type: 'directory', sizeBytes: counter.bytes() };
  }

  private async connect(idOrName: string): Promise<{ shell: GuestShell; vmName: string }> {
    const { vm, process, driver } = this.vms.runningVm(idOrName, 'used for file transfer');
    return { shell: await this.shells.connection(vm.id, vm.name, driver, process), vmName: vm.name };
  }

  private sftp(shell: GuestShell, vmName: string): Promise<ssh2.SFTPWrapper> {
    const known = this.sessions.get(shell);
    if (known) return known;
    const session = new Promise<ssh2.SFTPWrapper>((resolve, reject) => {
      shell.client.sftp((error, sftp) => {
        if (error) return reject(unreachable(vmName, error));
        sftp.on('close', () => this.sessions.delete(shell));
        resolve(sftp);
      });
    });
    session.catch(() => this.sessions.delete(shell));
    this.sessions.set(shell, session);
    return session;
  }

  /** The path's parent, made with its own missing parents when mkdirs is set. */
  private async parentDirectory(sftp: ssh2.SFTPWrapper, vmName: string, path: string, options: WriteOptions): Promise<string> {
    const parent = posix.dirname(path);
    const stats = await stat(sftp, parent);
    if (stats?.isDirectory()) return parent;
    if (stats !== null) {
      throw new BangerError('guest-path-conflict', `${parent} in VM ${vmName} is not a directory`, { hint: 'choose a path whose parent is a directory' });
    }
    if (!options.mkdirs) {
      throw new BangerError('guest-path-not-found', `The directory ${parent} does not exist in VM ${vmName}`, {
        hint: 'create it, or pass mkdirs=true (banger vm cp --mkdirs) to create missing directories',
      });
    }
    let at = '';
    for (const part of parent.split('/').filter(Boolean)) {
      at = `${at}/${part}`;
      const there = await stat(sftp, at);
      if (there?.isDirectory()) continue;
      if (there !== null) throw new BangerError('guest-path-conflict', `${at} in VM ${vmName} is not a directory`, { hint: 'choose another path' });
      await call((done) => sftp.mkdir(at, { mode: 0o755 }, done)).catch(async (error: unknown) => {
        // Made meanwhile by another call is as good.
        if (!(await stat(sftp, at))?.isDirectory()) throw error;
      });
    }
    return parent;
  }

  private async writeFailure(sftp: ssh2.SFTPWrapper, vmName: string, path: string, parent: string, error: unknown): Promise<Error> {
    if (error instanceof BangerError) return error;
    const full = await diskFull(sftp, parent);
    if (full) return full(vmName, path);
    const code = (error as { code?: unknown }).code;
    const message = error instanceof Error ? error.message : String(error);
    if (code === SFTP_PERMISSION_DENIED) {
      return new BangerError('guest-file-failed', `Writing ${path} in VM ${vmName} was refused: ${message}`, { hint: 'the filesystem may be read-only there' });
    }
    if (code === undefined) return error instanceof Error ? error : new Error(message);
    return new BangerError('guest-file-failed', `Writing ${path} in VM ${vmName} failed: ${message}`, { hint: 'check the guest with exec, e.g. df and ls -ld' });
  }
}

/** A pass-through that counts the bytes going by and, given a hash, feeds it. */
function byteCounter(hash?: Hash): { stream: Transform; bytes: () => number; hash?: Hash } {
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      hash?.update(chunk);
      done(null, chunk);
    },
  });
  return { stream, bytes: () => bytes, hash };
}

function checkedPath(rawPath: string): string {
  const path = normalizeGuestPath(rawPath);
  if (typeof path !== 'string') throw validationError('The guest path is not valid', [path]);
  return path;
}

function notFound(vmName: string, path: string): BangerError {
  return new BangerError('guest-path-not-found', `${path} does not exist in VM ${vmName}`, { hint: 'list the directory with exec, e.g. ls -la' });
}

function unreachable(vmName: string, error: unknown): BangerError {
  if (error instanceof BangerError) return error;
  return new BangerError('guest-unreachable', `VM ${vmName}: the guest's SSH server did not open a channel: ${error instanceof Error ? error.message : String(error)}`, {
    hint: 'retry; if it persists, restart the VM',
    cause: error,
  });
}

/** The stats of path (symlinks followed), or null when nothing is there. */
async function stat(sftp: ssh2.SFTPWrapper, path: string): Promise<ssh2.Stats | null> {
  try {
    return await call<ssh2.Stats>((done) => sftp.stat(path, done));
  } catch (error) {
    if ((error as { code?: unknown }).code === SFTP_NO_SUCH_FILE) return null;
    throw error;
  }
}

/** When the filesystem under path is (nearly) full, what to throw; else null. */
async function diskFull(sftp: ssh2.SFTPWrapper, path: string): Promise<((vmName: string, target: string) => BangerError) | null> {
  type Count = number | bigint;
  const info = await call<{ f_bfree: Count; f_frsize: Count; f_blocks: Count }>((done) => sftp.ext_openssh_statvfs(path, done)).catch(() => null);
  if (info === null) return null;
  // bfree, not bavail: the SFTP server runs as root, which may use the reserved blocks.
  const free = Number(info.f_bfree) * Number(info.f_frsize);
  const size = Number(info.f_blocks) * Number(info.f_frsize);
  if (!Number.isFinite(free) || free >= FULL_DISK_BYTES) return null;
  return (vmName, target) =>
    new BangerError('guest-disk-full', `The guest filesystem holding ${target} in VM ${vmName} is full: ${free} bytes free of ${size}`, {
      hint: 'free space in the guest (exec rm …), or write to a disk with room; nothing was left half-written',
    });
}

function call<T = void>(start: (done: (error: Error | null | undefined, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    start((error, value) => (error ? reject(error) : resolve(value as T)));
  });
}
