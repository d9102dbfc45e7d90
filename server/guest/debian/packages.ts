import { readTreeFile } from './tree-files.js';

/**
 * Debian package names as a build request gives them, and what dpkg's status
 * file says is installed in a tree.
 */

/** Debian package name, optionally `:arch` and `=version`: anything else could be read as an option. */
const PACKAGE_PATTERN = /^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?(=[A-Za-z0-9.+~:-]+)?$/;

export function isValidPackageName(name: string): boolean {
  return PACKAGE_PATTERN.test(name);
}

export function checkPackageNames(names: readonly string[]): void {
  const bad = names.filter((name) => !isValidPackageName(name));
  if (bad.length > 0) throw new Error(`invalid Debian package name${bad.length > 1 ? 's' : ''}: ${bad.map((name) => JSON.stringify(name)).join(', ')}`);
}

/** The package a requested name refers to, without `:arch` or `=version`. */
export function basePackageName(name: string): string {
  return name.replace(/[:=].*$/, '');
}

export interface InstalledPackage {
  name: string;
  version: string;
  architecture: string;
}

/** Packages dpkg's status file lists as fully installed, sorted by name. */
export function parseDpkgStatus(text: string): InstalledPackage[] {
  const installed: InstalledPackage[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of stanza.split('\n')) {
      const match = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
      if (match?.[1] && match[2] !== undefined) fields.set(match[1].toLowerCase(), match[2].trim());
    }
    const name = fields.get('package');
    if (!name || fields.get('status') !== 'install ok installed') continue;
    installed.push({ name, version: fields.get('version') ?? '', architecture: fields.get('architecture') ?? '' });
  }
  return installed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export async function readInstalledPackages(rootDir: string): Promise<InstalledPackage[]> {
  return parseDpkgStatus(await readTreeFile(rootDir, 'var/lib/dpkg/status'));
}

/** Requested names that are not installed, so a build can fail with the names instead of booting without them. */
export function missingPackages(requested: readonly string[], installed: readonly InstalledPackage[]): string[] {
  const have = new Set(installed.map((pkg) => pkg.name));
  return requested.filter((name) => !have.has(basePackageName(name)));
}
