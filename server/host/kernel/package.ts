import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run, RunError } from '../runner.js';
import type { KernelCacheManifest } from './cache-entries.js';
import { say, type KernelFetchOptions } from './common.js';
import { decompressModules, writeModuleIndex } from './module-files.js';

/**
 * Debian's kernel package through apt: which linux-image package the
 * metapackage names, and downloading and unpacking it with dpkg-deb.
 */

export const DEFAULT_KERNEL_METAPACKAGE = 'linux-image-cloud-amd64';

const APT_TIMEOUT_MS = 10 * 60 * 1000;
const UNPACK_TIMEOUT_MS = 10 * 60 * 1000;

const aptEnv = (): NodeJS.ProcessEnv => ({ ...process.env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' });

/**
 * The metapackage's first hard dependency on a linux-image package. apt-cache
 * writes a dependency it cannot find in its lists as `<name>`, which cannot be
 * downloaded, so those are skipped.
 */
export function parseKernelDependency(aptCacheDependsOutput: string): string | null {
  for (const line of aptCacheDependsOutput.split('\n')) {
    const match = /^\s*\|?Depends:\s+(linux-image-[^\s<>]+)\s*$/.exec(line);
    if (match?.[1]) return match[1];
  }
  return null;
}

export async function resolveKernelPackage(metapackage: string, options: KernelFetchOptions): Promise<string | null> {
  try {
    const result = await run('apt-cache', ['depends', '--no-recommends', '--no-suggests', metapackage], {
      env: aptEnv(),
      timeoutMs: 60_000,
      signal: options.signal,
    });
    return parseKernelDependency(result.stdout);
  } catch (error) {
    if (error instanceof RunError && error.reason === 'exit') return null;
    throw error;
  }
}

export async function updateAptLists(options: KernelFetchOptions): Promise<void> {
  await run('apt-get', ['update'], { env: aptEnv(), timeoutMs: APT_TIMEOUT_MS, signal: options.signal, log: options.log });
}

export async function downloadAndUnpack(
  metapackage: string,
  packageName: string,
  version: string,
  work: string,
  root: string,
  options: KernelFetchOptions,
): Promise<KernelCacheManifest> {
  const { signal, log } = options;
  const downloads = join(work, 'download');
  await mkdir(downloads);
  say(log, `kernel: downloading ${packageName}`);
  // apt drops privileges to _apt for downloads, which cannot write into a root-owned
  // temp dir; downloading as root avoids the failed attempt and its warning.
  await run('apt-get', ['download', '-o', 'APT::Sandbox::User=root', packageName], {
    cwd: downloads,
    env: aptEnv(),
    timeoutMs: APT_TIMEOUT_MS,
    signal,
    log,
  });
  const debs = (await readdir(downloads)).filter((name) => name.endsWith('.deb'));
  if (debs.length !== 1 || !debs[0]) throw new Error(`apt-get download ${packageName} left ${debs.length} .deb files`);
  const deb = join(downloads, debs[0]);

  const fields = await run('dpkg-deb', ['--showformat=${Version}', '--show', deb], { timeoutMs: 60_000, signal });
  const packageVersion = fields.stdout.trim();

  say(log, `kernel: unpacking ${debs[0]}`);
  await run('dpkg-deb', ['-x', deb, root], { timeoutMs: UNPACK_TIMEOUT_MS, signal, log });
  await rm(deb);

  // Newer Debian releases ship modules under /usr/lib; keep one layout in the cache.
  const usrModules = join(root, 'usr', 'lib', 'modules', version);
  const modulesDir = join(root, 'lib', 'modules', version);
  if (!existsSync(modulesDir) && existsSync(usrModules)) {
    await mkdir(join(root, 'lib', 'modules'), { recursive: true });
    await rename(usrModules, modulesDir);
  }
  const kernelPath = join(root, 'boot', `vmlinuz-${version}`);
  if (!existsSync(kernelPath)) throw new Error(`${packageName} contains no boot/vmlinuz-${version}`);
  if (!existsSync(modulesDir)) throw new Error(`${packageName} contains no lib/modules/${version}`);

  const moduleCompression = await decompressModules(modulesDir, options);
  const modulesDep = await writeModuleIndex(root, modulesDir, version, options);
  return {
    metapackage,
    package: packageName,
    packageVersion,
    version,
    moduleCompression,
    modulesDep,
    fetchedAt: new Date().toISOString(),
  };
}
