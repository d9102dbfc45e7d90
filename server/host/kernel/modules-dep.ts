import { basename } from 'node:path';

/**
 * modules.dep: module names, parsing and writing it, and the order modules must
 * be loaded in so each comes after what it needs.
 */

/** Module name as the kernel knows it: file name without .ko[.comp], dashes as underscores. */
export function moduleNameFromPath(path: string): string {
  return basename(path).replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
}

export function normalizeModuleName(name: string): string {
  return name.replace(/-/g, '_');
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
