import { chmod, copyFile, mkdir, realpath } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { makeDirs } from '../host/dirs.js';
import { run, type LogSink } from '../host/runner.js';

/**
 * The SSH server of busybox guests, which exec and file transfer go through (docs/guest-agent.md,
 * "shell"): the host's Debian dropbear and OpenSSH's sftp-server, with the shared libraries they
 * load, copied into the tree at the paths the dynamic loader looks them up by. Busybox itself
 * is static; these two are the only dynamically linked programs in the image.
 */

/** Where the host's programs come from (the packages scripts/install-host-deps.sh installs). */
export const DROPBEAR_HOST_PATH = '/usr/sbin/dropbear';
export const SFTP_SERVER_HOST_PATH = '/usr/lib/openssh/sftp-server';

/** Debian builds dropbear to run this path for the SFTP subsystem. */
const SFTP_SERVER_GUEST_PATH = '/usr/lib/sftp-server';
const DROPBEAR_GUEST_PATH = '/usr/sbin/dropbear';

const LDD_TIMEOUT_MS = 30_000;

export interface SshServerSources {
  dropbearPath?: string;
  sftpServerPath?: string;
}

export interface SshServerOptions extends SshServerSources {
  signal?: AbortSignal;
  log?: LogSink;
}

/**
 * The absolute paths `ldd` names: each library as the loader finds it (`libc.so.6 => /lib/…`)
 * and the loader itself (a line with a path and an address only). The vDSO has no file.
 */
export function parseLddOutput(output: string): string[] {
  const paths: string[] = [];
  for (const line of output.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('linux-vdso') || trimmed.startsWith('linux-gate')) continue;
    if (trimmed.includes('=> not found')) throw new Error(`a library is missing on the host: ${trimmed}`);
    const arrow = /^\S+ => (\/\S+) \(0x[0-9a-f]+\)$/.exec(trimmed);
    const direct = /^(\/\S+) \(0x[0-9a-f]+\)$/.exec(trimmed);
    const path = arrow?.[1] ?? direct?.[1];
    if (path === undefined) {
      if (trimmed.includes('statically linked')) continue;
      throw new Error(`unexpected ldd output line: ${trimmed}`);
    }
    if (!paths.includes(path)) paths.push(path);
  }
  return paths;
}

async function sharedLibraries(binary: string, options: SshServerOptions): Promise<string[]> {
  const result = await run('ldd', [binary], { timeoutMs: LDD_TIMEOUT_MS, signal: options.signal });
  return parseLddOutput(result.stdout);
}

/** Copies a host file to the same path under rootDir, following links (the loader's names are links). */
async function copyInto(rootDir: string, hostPath: string, guestPath: string, mode: number): Promise<void> {
  if (!isAbsolute(guestPath) || guestPath.split('/').includes('..')) throw new Error(`not a plain absolute path: ${guestPath}`);
  const target = join(rootDir, guestPath);
  await makeDirs(dirname(target));
  await copyFile(await realpath(hostPath), target);
  await chmod(target, mode);
}

/**
 * Installs dropbear and sftp-server into a busybox tree. No host key is made here: every VM
 * copies the image, so one key would be every VM's. The agent starts dropbear with -R, which
 * makes the key on the first connection of each VM, and reidentify removes it in clones.
 */
export async function installSshServer(rootDir: string, options: SshServerOptions = {}): Promise<void> {
  const programs: Array<[string, string]> = [
    [options.dropbearPath ?? DROPBEAR_HOST_PATH, DROPBEAR_GUEST_PATH],
    [options.sftpServerPath ?? SFTP_SERVER_HOST_PATH, SFTP_SERVER_GUEST_PATH],
  ];
  const libraries = new Set<string>();
  for (const [hostPath, guestPath] of programs) {
    for (const library of await sharedLibraries(hostPath, options)) libraries.add(library);
    await copyInto(rootDir, hostPath, guestPath, 0o755);
  }
  for (const library of libraries) await copyInto(rootDir, library, library, 0o755);
  await mkdir(join(rootDir, 'etc', 'dropbear'), { recursive: true, mode: 0o700 });
  await chmod(join(rootDir, 'etc', 'dropbear'), 0o700);
  options.log?.write(`rootfs: dropbear and sftp-server with ${libraries.size} libraries\n`);
}
