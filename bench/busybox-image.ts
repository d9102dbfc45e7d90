import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBusyboxRootfs } from '../server/guest/busybox-rootfs.js';
import { buildInitrd, DEFAULT_INITRD_MODULES } from '../server/guest/initrd.js';
import { makeExt4 } from '../server/host/ext4.js';
import { ensureDefaultKernel } from '../server/host/kernel/cache.js';

export interface BenchImage {
  kernel: string;
  initrd: string;
  rootfs: string;
  workSeed: string;
}

const MiB = 1024 * 1024;

/** Shared with the test suite, so a machine that ran the tests does not download the kernel again. */
export const benchKernelCache = process.env.BANGER_KERNEL_CACHE ?? join(process.env.BANGER_TEST_CACHE ?? join(tmpdir(), 'banger-test-cache'), 'kernels');

/** The busybox image the integration tests boot, built into dir (which must be empty or absent). */
export async function buildBusyboxImage(dir: string): Promise<BenchImage> {
  const kernel = await ensureDefaultKernel(benchKernelCache);
  await mkdir(dir, { recursive: true });
  const image: BenchImage = {
    kernel: kernel.kernelPath,
    initrd: join(dir, 'initrd.img'),
    rootfs: join(dir, 'rootfs.ext4'),
    workSeed: join(dir, 'work-seed.ext4'),
  };
  await buildInitrd(image.initrd, { modulesDir: kernel.modulesDir, kernelVersion: kernel.version, modules: DEFAULT_INITRD_MODULES });
  const rootDir = join(dir, 'root');
  await buildBusyboxRootfs(rootDir, { modulesDir: kernel.modulesDir, kernelVersion: kernel.version });
  await makeExt4(image.rootfs, 256 * MiB, { fromDir: rootDir });
  await rm(rootDir, { recursive: true, force: true });
  const seedDir = join(dir, 'seed');
  await mkdir(join(seedDir, '.ssh'), { recursive: true, mode: 0o700 });
  await writeFile(join(seedDir, '.ssh', 'authorized_keys'), '', { mode: 0o600 });
  await makeExt4(image.workSeed, 64 * MiB, { fromDir: seedDir, label: 'banger-work' });
  await rm(seedDir, { recursive: true, force: true });
  return image;
}
