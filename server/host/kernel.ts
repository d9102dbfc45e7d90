import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { processStartTime, run, RunError, type LogSink } from './runner.js';

export const DEFAULT_KERNEL_METAPACKAGE = 'linux-image-cloud-amd64';

export interface KernelFetchOptions {
  signal?: AbortSignal;
  log?: LogSink;
  /** Debian metapackage that names the current kernel package. */
  metapackage?: string;
}

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

export type ModuleCompression = 'none' | 'xz' | 'zst' | 'gz';

const MANIFEST = 'banger-kernel.json';
const APT_TIMEOUT_MS = 10 * 60 * 1000;
const UNPACK_TIMEOUT_MS = 10 * 60 * 1000;
// Decompression is batched: one process per module is slow, all of them at once could exceed ARG_MAX.
const FILES_PER_COMMAND = 200;

const aptEnv = (): NodeJS.ProcessEnv => ({ ...process.env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' });

function say(log: LogSink | undefined, message: string): void {
  try {
    log?.write(`${message}\n`);
  } catch {
    // Progress lines are a courtesy; a broken log must not fail the fetch.
  }
}

function isErrno(error: unknown, ...codes: string[]): boolean {
  return error instanceof Error && codes.includes((error as NodeJS.ErrnoException).code ?? '');
}

export function kernelPaths(cacheDir: string, version: string): CachedKernel {
  const root = join(cacheDir, version);
  return {
    version,
    kernelPath: join(root, 'boot', `vmlinuz-${version}`),
    modulesDir: join(root, 'lib', 'modules', version),
  };
}

async function isCompleteEntry(paths: CachedKernel): Promise<boolean> {
  try {
    const [kernel, dep] = await Promise.all([stat(paths.kernelPath), stat(join(paths.modulesDir, 'modules.dep'))]);
    return kernel.isFile() && dep.isFile();
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ENOTDIR')) return false;
    throw error;
  }
}

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

async function resolveKernelPackage(metapackage: string, options: KernelFetchOptions): Promise<string | null> {
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

/** Complete entries fetched through metapackage, most recently fetched first. */
async function cachedVersions(cacheDir: string, metapackage: string): Promise<CachedKernel[]> {
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

function partialDirPrefix(): string {
  return `${PARTIAL_PREFIX}${process.pid}-${processStartTime(process.pid) ?? '0'}-`;
}

/**
 * Removes the work dirs of fetches whose process is gone (killed mid-download or
 * mid-unpack). A live process's dir, ours included, is left alone.
 */
async function removeAbandonedPartials(cacheDir: string): Promise<void> {
  for (const name of await readdir(cacheDir)) {
    const match = /^\.partial-(\d+)-(\d+)-/.exec(name);
    if (!match?.[1] || !match[2]) continue;
    if (processStartTime(Number(match[1])) === match[2]) continue;
    await rm(join(cacheDir, name), { recursive: true, force: true });
  }
}

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
    await run('apt-get', ['update'], { env: aptEnv(), timeoutMs: APT_TIMEOUT_MS, signal: options.signal, log: options.log });
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
    await writeFile(join(root, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
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

async function downloadAndUnpack(
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

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

const DECOMPRESSORS: Record<Exclude<ModuleCompression, 'none'>, { command: string; args: string[] }> = {
  xz: { command: 'xz', args: ['-d', '-q', '-f'] },
  zst: { command: 'zstd', args: ['-d', '-q', '-f', '--rm'] },
  gz: { command: 'gzip', args: ['-d', '-q', '-f'] },
};

/**
 * Decompresses every .ko.xz/.ko.zst/.ko.gz under modulesDir in place and reports
 * which compressions were found ('none' for plain .ko files).
 * busybox insmod reads a module file as is and cannot undo zstd (nor, depending on
 * how busybox was built, xz), and the kernel only decompresses by itself when built
 * to; stored plain, a module loads everywhere.
 */
export async function decompressModules(modulesDir: string, options: KernelFetchOptions): Promise<ModuleCompression[]> {
  const files = await listFiles(modulesDir);
  const found = new Set<ModuleCompression>();
  for (const [kind, tool] of Object.entries(DECOMPRESSORS) as [Exclude<ModuleCompression, 'none'>, { command: string; args: string[] }][]) {
    const compressed = files.filter((file) => file.endsWith(`.ko.${kind}`));
    if (compressed.length === 0) continue;
    found.add(kind);
    say(options.log, `kernel: decompressing ${compressed.length} .ko.${kind} modules`);
    for (let i = 0; i < compressed.length; i += FILES_PER_COMMAND) {
      await run(tool.command, [...tool.args, '--', ...compressed.slice(i, i + FILES_PER_COMMAND)], {
        timeoutMs: UNPACK_TIMEOUT_MS,
        signal: options.signal,
        log: options.log,
      });
    }
  }
  if (files.some((file) => file.endsWith('.ko'))) found.add('none');
  return [...found].sort();
}

/** modules.dep via depmod when kmod is installed, else from each module's own .modinfo. */
async function writeModuleIndex(
  root: string,
  modulesDir: string,
  version: string,
  options: KernelFetchOptions,
): Promise<'depmod' | 'modinfo'> {
  try {
    await run('depmod', ['-b', root, version], { timeoutMs: UNPACK_TIMEOUT_MS, signal: options.signal, log: options.log });
    if (existsSync(join(modulesDir, 'modules.dep'))) return 'depmod';
    say(options.log, 'kernel: depmod wrote no modules.dep here; computing it from the modules');
  } catch (error) {
    if (!(error instanceof RunError) || error.reason === 'aborted' || error.reason === 'timeout') throw error;
    // Missing kmod, or a kmod that looks for modules under another prefix (/usr/lib).
    const why = error.reason === 'spawn' ? 'depmod not installed' : `depmod failed (${error.message})`;
    say(options.log, `kernel: ${why}; computing modules.dep from the modules`);
  }
  await writeModulesDep(modulesDir);
  return 'modinfo';
}

// ---------------------------------------------------------------------------
// Module metadata and dependency order

/** Module name as the kernel knows it: file name without .ko[.comp], dashes as underscores. */
export function moduleNameFromPath(path: string): string {
  return basename(path).replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
}

export function normalizeModuleName(name: string): string {
  return name.replace(/-/g, '_');
}

/**
 * Key/value pairs of an ELF object's .modinfo section (NUL-separated `key=value`
 * strings). Keys like `alias` repeat, so each maps to a list.
 */
export function readModinfo(elf: Buffer): Map<string, string[]> {
  const fail = (why: string): never => {
    throw new Error(`not a loadable kernel module: ${why}`);
  };
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46) fail('no ELF header');
  if (elf[4] !== 2 || elf[5] !== 1) fail('not a 64-bit little-endian ELF object');
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const shstrndx = elf.readUInt16LE(0x3e);
  if (shentsize < 64 || shoff + shnum * shentsize > elf.length || shstrndx >= shnum) fail('section headers out of bounds');
  const section = (index: number): { name: number; offset: number; size: number } => {
    const at = shoff + index * shentsize;
    return { name: elf.readUInt32LE(at), offset: Number(elf.readBigUInt64LE(at + 24)), size: Number(elf.readBigUInt64LE(at + 32)) };
  };
  const names = section(shstrndx);
  const sectionName = (offset: number): string => {
    const start = names.offset + offset;
    const end = elf.indexOf(0, start);
    return elf.toString('latin1', start, end < 0 ? start : end);
  };
  const result = new Map<string, string[]>();
  for (let index = 0; index < shnum; index++) {
    const header = section(index);
    if (sectionName(header.name) !== '.modinfo') continue;
    if (header.offset + header.size > elf.length) fail('.modinfo out of bounds');
    for (const item of elf.toString('utf8', header.offset, header.offset + header.size).split('\0')) {
      const eq = item.indexOf('=');
      if (eq <= 0) continue;
      const key = item.slice(0, eq);
      const list = result.get(key) ?? [];
      list.push(item.slice(eq + 1));
      result.set(key, list);
    }
    return result;
  }
  return fail('no .modinfo section');
}

export interface ModuleDepEntry {
  /** Path relative to the modules dir, as written in modules.dep. */
  path: string;
  /** Paths of every module it needs, directly or not, as listed in modules.dep. */
  deps: string[];
}

/** Parses modules.dep (`kernel/a.ko: kernel/b.ko kernel/c.ko` per line) into name → entry. */
export function parseModulesDep(text: string): Map<string, ModuleDepEntry> {
  const modules = new Map<string, ModuleDepEntry>();
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`malformed modules.dep line: ${line}`);
    const path = line.slice(0, colon).trim();
    const deps = line.slice(colon + 1).trim().split(/\s+/).filter((dep) => dep !== '');
    modules.set(moduleNameFromPath(path), { path, deps });
  }
  return modules;
}

export class ModuleNotFoundError extends Error {
  constructor(readonly moduleName: string) {
    super(`kernel module ${moduleName} is neither in modules.dep nor built in`);
    this.name = 'ModuleNotFoundError';
  }
}

export interface ModuleLoadPlan {
  /** Module paths (relative to the modules dir), each after everything it needs. */
  load: string[];
  /** Requested names that are compiled into the kernel and need no loading. */
  builtin: string[];
}

/**
 * Orders the requested modules and their dependencies so each is loaded after the
 * modules it needs, keeping the requested order where dependencies allow. Each
 * dependency's own modules.dep line is followed, so the result does not depend on
 * how depmod ordered a list.
 */
export function moduleLoadOrder(modulesDep: string, requested: readonly string[], builtinList = ''): ModuleLoadPlan {
  const modules = parseModulesDep(modulesDep);
  const builtinNames = new Set(
    builtinList
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '')
      .map(moduleNameFromPath),
  );
  const byPath = new Map<string, string>();
  for (const [name, entry] of modules) byPath.set(entry.path, name);

  const load: string[] = [];
  const builtin: string[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();
  const visit = (name: string, chain: string[]): void => {
    if (done.has(name)) return;
    if (visiting.has(name)) throw new Error(`kernel module dependency cycle: ${[...chain, name].join(' -> ')}`);
    const entry = modules.get(name);
    if (!entry) throw new ModuleNotFoundError(name);
    visiting.add(name);
    // depmod lists dependencies deepest last, so walking the list backwards loads
    // the most basic modules first, matching what modprobe would do.
    for (const depPath of [...entry.deps].reverse()) {
      visit(byPath.get(depPath) ?? moduleNameFromPath(depPath), [...chain, name]);
    }
    visiting.delete(name);
    done.add(name);
    load.push(entry.path);
  };
  for (const requestedName of requested) {
    const name = normalizeModuleName(requestedName);
    if (!modules.has(name) && builtinNames.has(name)) {
      if (!builtin.includes(name)) builtin.push(name);
      continue;
    }
    visit(name, []);
  }
  return { load, builtin };
}

/**
 * Builds modules.dep text from each module's direct dependencies (name → depends),
 * listing a module's whole closure the way depmod does: loadable right to left.
 */
export function formatModulesDep(modules: ReadonlyMap<string, { path: string; depends: string[] }>): string {
  const closure = (name: string): string[] => {
    const order: string[] = [];
    const seen = new Set<string>();
    const walk = (current: string, chain: string[]): void => {
      const entry = modules.get(current);
      if (!entry) throw new ModuleNotFoundError(current);
      for (const dep of entry.depends) {
        const depName = normalizeModuleName(dep);
        if (chain.includes(depName)) throw new Error(`kernel module dependency cycle: ${[...chain, depName].join(' -> ')}`);
        if (seen.has(depName)) continue;
        walk(depName, [...chain, depName]);
        seen.add(depName);
        order.push(depName);
      }
    };
    walk(name, [name]);
    return order.reverse().map((dep) => modules.get(dep)?.path ?? dep);
  };
  const lines = [...modules.entries()]
    .sort(([, a], [, b]) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map(([name, entry]) => {
      const deps = closure(name);
      return deps.length === 0 ? `${entry.path}:` : `${entry.path}: ${deps.join(' ')}`;
    });
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/** What depmod would write as modules.dep, for hosts without kmod. */
export async function writeModulesDep(modulesDir: string): Promise<void> {
  const files = (await listFiles(modulesDir)).filter((file) => file.endsWith('.ko'));
  const modules = new Map<string, { path: string; depends: string[] }>();
  for (const file of files) {
    const info = readModinfo(await readFile(file));
    const depends = (info.get('depends') ?? [])
      .flatMap((value) => value.split(','))
      .map((dep) => dep.trim())
      .filter((dep) => dep !== '');
    modules.set(moduleNameFromPath(file), { path: relative(modulesDir, file), depends });
  }
  const target = join(modulesDir, 'modules.dep');
  const temp = `${target}.tmp-${process.pid}`;
  await writeFile(temp, formatModulesDep(modules));
  await rename(temp, target);
}

/** The modules.builtin list of a modules dir, or '' when the kernel shipped none. */
export async function readBuiltinModules(modulesDir: string): Promise<string> {
  try {
    return await readFile(join(modulesDir, 'modules.builtin'), 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return '';
    throw error;
  }
}
