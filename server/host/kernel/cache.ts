import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { RunError } from '../runner.js';
import {
  cachedVersions,
  isCompleteEntry,
  kernelPaths,
  partialDirPrefix,
  removeAbandonedPartials,
  writeManifest,
  type CachedKernel,
  type KernelCacheManifest,
} from './cache-entries.js';
import { isErrno, say, type KernelFetchOptions } from './common.js';
import { DEFAULT_KERNEL_METAPACKAGE, downloadAndUnpack, resolveKernelPackage, updateAptLists } from './package.js';

/**
 * The kernel cache's entry point: the current Debian cloud kernel, from the
 * cache or fetched into it, falling back to a cached one when apt cannot help.
 */

/**
 * Returns Debian's current cloud kernel from cacheDir, downloading and unpacking
 * it first if it is not there. An entry appears in the cache only complete
 * (unpacked, modules decompressed, modules.dep written), through one rename.
 */
export async function ensureDefaultKernel(cacheDir: string, options: KernelFetchOptions = {}): Promise<CachedKernel> {
  const metapackage = options.metapackage ?? DEFAULT_KERNEL_METAPACKAGE;
  await mkdir(cacheDir, { recursive: true });
  await removeAbandonedPartials(cacheDir);

  let packageName = await resolveKernelPackage(metapackage, options);
  if (packageName === null) {
    const cached = (await cachedVersions(cacheDir, metapackage))[0];
    if (cached) {
      // Offline, or lists gone: a kernel we already have beats failing the build.
      say(options.log, `kernel: cannot resolve ${metapackage} from the apt lists; using cached ${cached.version}`);
      return cached;
    }
    say(options.log, `kernel: ${metapackage} not in the apt lists; running apt-get update`);
    await updateAptLists(options);
    packageName = await resolveKernelPackage(metapackage, options);
    if (packageName === null) {
      throw new Error(`cannot resolve the kernel package: apt-cache knows no linux-image dependency of ${metapackage}`);
    }
  }
  const version = packageName.replace(/^linux-image-/, '');
  // The release names a directory in the cache and in every image built from it.
  if (!/^[A-Za-z0-9][A-Za-z0-9.+_-]*$/.test(version)) throw new Error(`unexpected kernel package name: ${packageName}`);
  const paths = kernelPaths(cacheDir, version);
  if (await isCompleteEntry(paths)) return paths;

  if (existsSync(join(cacheDir, version)) && !(await isCompleteEntry(paths))) {
    // Entries only ever appear complete, so this one was edited by hand. Move it
    // aside under a name that a later call cleans up if we die before removing it.
    const aside = join(cacheDir, `${partialDirPrefix()}broken-${randomBytes(4).toString('hex')}`);
    await rename(join(cacheDir, version), aside);
    await rm(aside, { recursive: true, force: true });
  }

  const work = await mkdtemp(join(cacheDir, partialDirPrefix()));
  try {
    const root = join(work, 'root');
    let manifest: KernelCacheManifest;
    try {
      manifest = await downloadAndUnpack(metapackage, packageName, version, work, root, options);
    } catch (error) {
      const cached = (await cachedVersions(cacheDir, metapackage))[0];
      if (options.signal?.aborted || !cached || !(error instanceof RunError && error.command === 'apt-get')) throw error;
      // A newer kernel is listed but cannot be downloaded (mirror or network down).
      say(options.log, `kernel: cannot download ${packageName} (${error.message}); using cached ${cached.version}`);
      return cached;
    }
    await writeManifest(root, manifest);
    try {
      await rename(root, join(cacheDir, version));
    } catch (error) {
      // A concurrent fetch of the same version finished first; its entry is as good as ours.
      if (!isErrno(error, 'EEXIST', 'ENOTEMPTY') || !(await isCompleteEntry(paths))) throw error;
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  if (!(await isCompleteEntry(paths))) throw new Error(`kernel cache entry ${join(cacheDir, version)} is incomplete after unpacking`);
  say(options.log, `kernel: ${version} ready in ${join(cacheDir, version)}`);
  return paths;
}
