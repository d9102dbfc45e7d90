import { existsSync } from 'node:fs';
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { run, RunError } from '../runner.js';
import { isErrno, say, type KernelFetchOptions } from './common.js';
import { readModinfo } from './modinfo.js';
import { formatModulesDep, moduleNameFromPath } from './modules-dep.js';

/**
 * The module files of an unpacked kernel: stored decompressed, indexed in
 * modules.dep (by depmod, or from the modules themselves), and its built-in list.
 */

export type ModuleCompression = 'none' | 'xz' | 'zst' | 'gz';

const MODULE_TOOL_TIMEOUT_MS = 10 * 60 * 1000;
// Decompression is batched: one process per module is slow, all of them at once could exceed ARG_MAX.
const FILES_PER_COMMAND = 200;

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
        timeoutMs: MODULE_TOOL_TIMEOUT_MS,
        signal: options.signal,
        log: options.log,
      });
    }
  }
  if (files.some((file) => file.endsWith('.ko'))) found.add('none');
  return [...found].sort();
}

/** modules.dep via depmod when kmod is installed, else from each module's own .modinfo. */
export async function writeModuleIndex(
  root: string,
  modulesDir: string,
  version: string,
  options: KernelFetchOptions,
): Promise<'depmod' | 'modinfo'> {
  try {
    await run('depmod', ['-b', root, version], { timeoutMs: MODULE_TOOL_TIMEOUT_MS, signal: options.signal, log: options.log });
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
