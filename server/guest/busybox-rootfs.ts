import { chmod, copyFile, mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { busyboxApplets, DEFAULT_BUSYBOX_PATH, readStaticBusybox } from '../host/busybox.js';
import { makeDirs } from '../host/dirs.js';
import { run, type LogSink } from '../host/runner.js';
import { installSshServer, type SshServerSources } from './busybox-ssh.js';
import { guestFiles } from './guest-files.js';

/** The port the busybox image serves HTTP on (busybox httpd, see busybox-inittab). */
export const BUSYBOX_PROBE_PORT = 8080;

export interface BusyboxRootfsOptions {
  /** Copied to /lib/modules/<kernelVersion>, so the guest can modprobe the rest. */
  modulesDir?: string;
  kernelVersion?: string;
  busyboxPath?: string;
  /** Default hostname; the kernel command line's banger.hostname= wins. */
  hostname?: string;
  /** The host programs the guest's SSH server is copied from; Debian's by default. */
  sshServer?: SshServerSources;
  signal?: AbortSignal;
  log?: LogSink;
}

const COPY_TIMEOUT_MS = 10 * 60 * 1000;

// Dirs are made 0755 explicitly: the daemon's umask (077) must not reach into the image.
async function writeText(path: string, text: string, mode = 0o644): Promise<void> {
  await makeDirs(dirname(path));
  await writeFile(path, text, { mode });
  // writeFile's mode is filtered by the umask; image files need exact modes.
  await chmod(path, mode);
}

async function install(source: string, target: string, mode: number): Promise<void> {
  await makeDirs(dirname(target));
  await copyFile(source, target);
  await chmod(target, mode);
}

/**
 * Fills rootDir (which must be empty or absent) with a busybox system: busybox
 * init running the guest agent, DHCP or static networking from the kernel
 * command line, an HTTP probe service on BUSYBOX_PROBE_PORT, a shell on ttyS0, and the
 * SSH server that the agent starts for exec and file transfer.
 * Turn it into a disk with makeExt4(image, size, { fromDir: rootDir }); files keep
 * the builder's ownership, so build as root.
 */
export async function buildBusyboxRootfs(rootDir: string, options: BusyboxRootfsOptions = {}): Promise<void> {
  const { signal, log } = options;
  const busyboxPath = options.busyboxPath ?? DEFAULT_BUSYBOX_PATH;
  if ((options.modulesDir === undefined) !== (options.kernelVersion === undefined)) {
    throw new Error('modulesDir and kernelVersion go together');
  }
  await makeDirs(rootDir);
  if ((await readdir(rootDir)).length > 0) throw new Error(`${rootDir} is not empty`);
  await chmod(rootDir, 0o755);

  const at = (path: string): string => join(rootDir, path);
  for (const path of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc/init.d', 'etc/rc.d', 'proc', 'sys', 'dev', 'run', 'mnt', 'home', 'var/log', 'srv/www', 'lib/modules']) {
    await makeDirs(at(path));
  }
  await mkdir(at('root'), { mode: 0o700 });
  await chmod(at('root'), 0o700);
  await mkdir(at('tmp'));
  await chmod(at('tmp'), 0o1777);
  await symlink('/run', at('var/run'));
  await symlink('/tmp', at('var/tmp'));

  await writeFile(at('bin/busybox'), await readStaticBusybox(busyboxPath));
  await chmod(at('bin/busybox'), 0o755);
  for (const applet of await busyboxApplets(busyboxPath, { signal })) {
    if (applet === 'bin/busybox' || applet === 'linuxrc') continue;
    await makeDirs(dirname(at(applet)));
    await symlink('/bin/busybox', at(applet));
  }

  await install(guestFiles.busyboxInittab, at('etc/inittab'), 0o644);
  await install(guestFiles.busyboxRcS, at('etc/init.d/rcS'), 0o755);
  await install(guestFiles.busyboxRcK, at('etc/init.d/rcK'), 0o755);
  await install(guestFiles.udhcpcScript, at('usr/share/udhcpc/default.script'), 0o755);
  await install(guestFiles.agent, at('usr/sbin/banger-agent'), 0o755);
  await makeDirs(at('srv/www/cgi-bin'));
  await install(guestFiles.busyboxStateCgi, at('srv/www/cgi-bin/state'), 0o755);

  const hostname = options.hostname ?? 'banger';
  await writeText(at('etc/hostname'), `${hostname}\n`);
  await writeText(at('etc/hosts'), `127.0.0.1\tlocalhost\n127.0.1.1\t${hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`);
  await writeText(at('etc/resolv.conf'), '');
  // No password: the console is the only way to log in, and it is the host's.
  await writeText(at('etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  await writeText(at('etc/group'), 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n');
  await writeText(at('etc/shadow'), 'root::19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n', 0o600);
  await writeText(at('etc/shells'), '/bin/sh\n/bin/ash\n');
  await writeText(at('etc/profile'), 'export PATH=/sbin:/bin:/usr/sbin:/usr/bin\nexport PS1=\'\\h:\\w\\$ \'\n');
  await writeText(at('etc/fstab'), '# Mounted by /etc/init.d/rcS; the root filesystem by the initramfs.\n');
  await writeText(at('etc/os-release'), 'NAME="banger busybox"\nID=banger-busybox\nPRETTY_NAME="banger busybox guest"\n');
  await installSshServer(rootDir, { ...options.sshServer, signal, log });
  await writeText(at('srv/www/index.html'), 'banger busybox guest\n');
  // busybox acpid runs /etc/acpi/<event>/<code> scripts; PWRF is the power button.
  await writeText(at('etc/acpi/PWRF/00000080'), '#!/bin/sh\npoweroff\n', 0o755);

  if (options.modulesDir !== undefined && options.kernelVersion !== undefined) {
    log?.write(`rootfs: copying modules for ${options.kernelVersion}\n`);
    // cp keeps the tree as is and clones where the filesystem can.
    await run('cp', ['-a', '--reflink=auto', '--', options.modulesDir, at(`lib/modules/${options.kernelVersion}`)], {
      timeoutMs: COPY_TIMEOUT_MS,
      signal,
      log,
    });
  }
  log?.write(`rootfs: busybox system in ${rootDir}\n`);
}
