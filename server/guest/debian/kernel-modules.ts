import { lstat, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run, type LogSink } from '../../host/runner.js';
import { treePath } from './tree-files.js';

/** Installing a cached kernel's modules into a Debian tree, indexed by the tree's own depmod. */

export interface InstallModulesOptions {
  signal?: AbortSignal;
  log?: LogSink;
}

const MODULES_TIMEOUT_MS = 10 * 60 * 1000;

/**
 * Copies a kernel's modules into the tree at /lib/modules/<kernelVersion> and
 * indexes them with the tree's own depmod. kmod's modprobe (which the kernel
 * also runs to load a module on demand: overlay for Docker, netfilter, tun…)
 * only reads the binary indexes (modules.dep.bin, modules.alias.bin), which a
 * host without kmod cannot write; the plain modules.dep is not enough.
 */
export async function installKernelModules(rootDir: string, modulesDir: string, kernelVersion: string, options: InstallModulesOptions = {}): Promise<void> {
  const { signal, log } = options;
  if (!/^[A-Za-z0-9][A-Za-z0-9.+_-]*$/.test(kernelVersion)) throw new Error(`invalid kernel version: ${kernelVersion}`);
  const target = await treePath(rootDir, `lib/modules/${kernelVersion}`, { createParents: true });
  await rm(target, { recursive: true, force: true });
  await run('cp', ['-a', '--reflink=auto', '--', modulesDir, target], { timeoutMs: MODULES_TIMEOUT_MS, signal, log });
  // lstat: the tree's links are absolute (/sbin/depmod -> /bin/kmod) and mean the tree's files, not the host's.
  let depmod: string | undefined;
  for (const path of ['usr/sbin/depmod', 'sbin/depmod']) {
    if ((await lstat(join(rootDir, path)).catch(() => null)) !== null) {
      depmod = path;
      break;
    }
  }
  if (depmod === undefined) {
    log?.write(`modules: ${rootDir} has no depmod (kmod); modprobe in the guest will not find modules by name\n`);
    return;
  }
  // depmod only reads and writes files under /lib/modules: a plain chroot, no mounts. Its indexes
  // get the usual 0644, not the daemon's umask (077).
  await run('sh', ['-c', 'umask 022 && exec chroot "$@"', 'chroot', rootDir, `/${depmod}`, kernelVersion], {
    timeoutMs: MODULES_TIMEOUT_MS,
    signal,
    log,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
  });
}
