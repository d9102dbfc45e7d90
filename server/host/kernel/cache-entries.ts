import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { processStartTime } from '../runner.js';
import { isErrno } from './common.js';
import type { ModuleCompression } from './module-files.js';

/**
 * The kernel cache's layout: one <cache>/<version> directory per kernel with a
 * manifest, and the work dirs of fetches still under way (or abandoned).
 */

export interface CachedKernel {
  /** Kernel release, as `uname -r` reports it inside the guest, e.g. 6.1.0-56-cloud-amd64. */
  version: string;
  kernelPath: string;
  /** <cache>/<version>/lib/modules/<version> */
  modulesDir: string;
}

/** Written last into an entry before it is renamed into place; describes where it came from. */
export interface KernelCacheManifest {
  metapackage: string;
  package: string;
  packageVersion: string;
  version: string;
  /** Compression the package shipped its modules with; they are stored decompressed. */
  moduleCompression: ModuleCompression[];
  modulesDep: 'depmod' | 'modinfo';
  fetchedAt: string;
}

const MANIFEST = 'banger-kernel.json';

export function kernelPaths(cacheDir: string, version: string): CachedKernel {
  const root = join(cacheDir, version);
  return {
    version,
    kernelPath: join(root, 'boot', `vmlinuz-${version}`),
    modulesDir: join(root, 'lib', 'modules', version),
  };
}

export async function isCompleteEntry(paths: CachedKernel): Promise<boolean> {
  try {
    const [kernel, dep] = await Promise.all([stat(paths.kernelPath), stat(join(paths.modulesDir, 'modules.dep'))]);
    return kernel.isFile() && dep.isFile();
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ENOTDIR')) return false;
    throw error;
  }
}

/** Complete entries fetched through metapackage, most recently fetched first. */
export async function cachedVersions(cacheDir: string, metapackage: string): Promise<CachedKernel[]> {
  let names: string[];
  try {
    names = await readdir(cacheDir);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return [];
    throw error;
  }
  const found: { entry: CachedKernel; mtime: number }[] = [];
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const entry = kernelPaths(cacheDir, name);
    if (!(await isCompleteEntry(entry))) continue;
    const manifest = await readFile(join(cacheDir, name, MANIFEST), 'utf8')
      .then((text) => JSON.parse(text) as Partial<KernelCacheManifest>)
      .catch(() => null);
    if (manifest?.metapackage !== metapackage) continue;
    found.push({ entry, mtime: (await stat(join(cacheDir, name))).mtimeMs });
  }
  return found.sort((a, b) => b.mtime - a.mtime).map(({ entry }) => entry);
}

const PARTIAL_PREFIX = '.partial-';

export function partialDirPrefix(): string {
  return `${PARTIAL_PREFIX}${process.pid}-${processStartTime(process.pid) ?? '0'}-`;
}

/**
 * Removes the work dirs of fetches whose process is gone (killed mid-download or
 * mid-unpack). A live process's dir, ours included, is left alone.
 */
export async function removeAbandonedPartials(cacheDir: string): Promise<void> {
  for (const name of await readdir(cacheDir)) {
    const match = /^\.partial-(\d+)-(\d+)-/.exec(name);
    if (!match?.[1] || !match[2]) continue;
    if (processStartTime(Number(match[1])) === match[2]) continue;
    await rm(join(cacheDir, name), { recursive: true, force: true });
  }
}

export async function writeManifest(root: string, manifest: KernelCacheManifest): Promise<void> {
  await writeFile(join(root, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
}
