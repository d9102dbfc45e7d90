import { createHash } from 'node:crypto';

/** One package a line; blank lines and `#` comments ignored; sorted and deduplicated. */
export function normalizePackages(lines: readonly string[]): string[] {
  const names = lines.map((line) => line.replace(/#.*/, '').trim()).filter((line) => line.length > 0);
  return [...new Set(names)].sort();
}

export function packagesHash(packages: readonly string[]): string {
  const normalized = normalizePackages(packages);
  return createHash('sha256').update(normalized.map((name) => `${name}\n`).join('')).digest('hex');
}
