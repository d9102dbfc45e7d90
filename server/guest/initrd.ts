import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { busyboxApplets, DEFAULT_BUSYBOX_PATH, readStaticBusybox } from '../host/busybox.js';
import { encodeCpio, type CpioEntry } from '../host/cpio.js';
import { readBuiltinModules } from '../host/kernel/module-files.js';
import { moduleLoadOrder } from '../host/kernel/modules-dep.js';
import type { LogSink } from '../host/runner.js';
import { guestFiles } from './guest-files.js';

/**
 * The initramfs every image boots with: busybox, the virtio modules and /init.
 * It lives with the guest because /init is a guest file; the host side only
 * lends busybox, cpio and the kernel's modules.
 */

const gzip = promisify(gzipCallback);

/**
 * What a virtio guest needs before its root filesystem can be mounted: the PCI
 * and MMIO transports (q35 and microvm), the disk, the NIC (so the image's own
 * init finds it), the console driver for the agent's virtio-serial port, and
 * ext4 (built into Debian's cloud kernel, but a module elsewhere).
 */
export const DEFAULT_INITRD_MODULES: readonly string[] = [
  'virtio_ring',
  'virtio',
  'virtio_mmio',
  'virtio_pci',
  'virtio_blk',
  'virtio_net',
  'virtio_console',
  'ext4',
];

export interface BuildInitrdOptions {
  modulesDir: string;
  kernelVersion: string;
  /** Module names; their dependencies are added from modules.dep. */
  modules: readonly string[];
  /** A statically linked busybox; the initramfs has no libc. */
  busyboxPath?: string;
  signal?: AbortSignal;
  log?: LogSink;
}

export interface InitrdResult {
  /** Module paths relative to the modules dir, in the order /init loads them. */
  loadOrder: string[];
  /** Requested modules that are built into the kernel. */
  builtin: string[];
  sizeBytes: number;
}

/** Adds a directory entry for every missing ancestor of path, parents first. */
function addParents(path: string, dirs: Set<string>, entries: CpioEntry[]): void {
  const parent = dirname(path);
  if (parent === '.' || parent === '/' || parent === '' || dirs.has(parent)) return;
  addParents(parent, dirs, entries);
  dirs.add(parent);
  entries.push({ type: 'dir', path: parent });
}

/**
 * Writes a gzip-compressed newc initramfs holding busybox, the requested modules
 * with their dependencies, and /init (server/guest/files/initrd-init). The output
 * appears only complete, through a rename.
 */
export async function buildInitrd(output: string, options: BuildInitrdOptions): Promise<InitrdResult> {
  const { modulesDir, kernelVersion, signal, log } = options;
  const busyboxPath = options.busyboxPath ?? DEFAULT_BUSYBOX_PATH;
  signal?.throwIfAborted();

  const depText = await readFile(join(modulesDir, 'modules.dep'), 'utf8').catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`${modulesDir} has no modules.dep; fetch the kernel with ensureDefaultKernel or run depmod`);
    }
    throw error;
  });
  const plan = moduleLoadOrder(depText, options.modules, await readBuiltinModules(modulesDir));
  log?.write(`initrd: loading ${plan.load.length} modules${plan.builtin.length > 0 ? `; built in: ${plan.builtin.join(', ')}` : ''}\n`);

  const entries: CpioEntry[] = [];
  const dirs = new Set<string>();
  const dir = (path: string, mode?: number): void => {
    addParents(path, dirs, entries);
    if (dirs.has(path)) return;
    dirs.add(path);
    entries.push({ type: 'dir', path, mode });
  };

  for (const path of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'proc', 'sys', 'dev', 'run', 'newroot', 'etc']) dir(path);
  dir('tmp', 0o1777);
  // The kernel opens /dev/console for init's stdio before /init can mount devtmpfs.
  entries.push({ type: 'char', path: 'dev/console', major: 5, minor: 1, mode: 0o600 });
  entries.push({ type: 'char', path: 'dev/null', major: 1, minor: 3, mode: 0o666 });

  entries.push({ type: 'file', path: 'bin/busybox', data: await readStaticBusybox(busyboxPath), mode: 0o755 });
  for (const applet of await busyboxApplets(busyboxPath, { signal })) {
    if (applet === 'bin/busybox' || applet === 'init' || applet === 'linuxrc') continue;
    addParents(applet, dirs, entries);
    entries.push({ type: 'symlink', path: applet, target: '/bin/busybox' });
  }
  entries.push({ type: 'file', path: 'init', data: await readFile(guestFiles.initrdInit), mode: 0o755 });

  const moduleRoot = `lib/modules/${kernelVersion}`;
  dir(moduleRoot);
  for (const modulePath of plan.load) {
    signal?.throwIfAborted();
    const target = `${moduleRoot}/${modulePath}`;
    addParents(target, dirs, entries);
    entries.push({ type: 'file', path: target, data: await readFile(join(modulesDir, modulePath)), mode: 0o644 });
  }
  entries.push({ type: 'file', path: `${moduleRoot}/banger-load-order`, data: plan.load.map((path) => `${path}\n`).join('') });

  const compressed = await gzip(encodeCpio(entries), { level: 9 });
  signal?.throwIfAborted();
  const temp = `${output}.tmp-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(temp, compressed, { mode: 0o644 });
    await rename(temp, output);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  log?.write(`initrd: wrote ${output} (${compressed.length} bytes)\n`);
  return { loadOrder: plan.load, builtin: plan.builtin, sizeBytes: compressed.length };
}
