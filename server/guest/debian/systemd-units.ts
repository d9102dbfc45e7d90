import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { linkInTree, readTreeFile } from './tree-files.js';

/** Enabling systemd units in a tree the way `systemctl enable` would, without running systemd. */

export interface UnitInstall {
  wantedBy: string[];
  requiredBy: string[];
  alias: string[];
  also: string[];
}

/** The [Install] section of a unit file. */
export function parseUnitInstall(text: string): UnitInstall {
  const install: UnitInstall = { wantedBy: [], requiredBy: [], alias: [], also: [] };
  let inInstall = false;
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('[')) {
      inInstall = line === '[Install]';
      continue;
    }
    if (!inInstall) continue;
    const match = /^([A-Za-z]+)\s*=\s*(.*)$/.exec(line);
    if (!match?.[1]) continue;
    const values = (match[2] ?? '').split(/\s+/).filter((value) => value !== '');
    const key = match[1];
    const list =
      key === 'WantedBy' ? install.wantedBy : key === 'RequiredBy' ? install.requiredBy : key === 'Alias' ? install.alias : key === 'Also' ? install.also : null;
    if (list === null) continue;
    // An empty assignment resets the list, as in systemd.
    if (values.length === 0) list.length = 0;
    else list.push(...values);
  }
  return install;
}

// Debian 12 keeps units in /lib/systemd/system (the same directory as /usr/lib/… under merged /usr).
const UNIT_DIRS = ['etc/systemd/system', 'lib/systemd/system', 'usr/lib/systemd/system'] as const;

async function findUnit(rootDir: string, unitName: string): Promise<{ relPath: string; guestPath: string } | null> {
  const instance = /^([^@]+@)([^.]+)(\.[a-z]+)$/.exec(unitName);
  const candidates = instance?.[1] && instance[3] && instance[2] !== '' ? [unitName, `${instance[1]}${instance[3]}`] : [unitName];
  for (const dir of UNIT_DIRS) {
    for (const file of candidates) {
      const relPath = `${dir}/${file}`;
      try {
        const info = await lstat(join(rootDir, relPath));
        // Symlinks in the unit dirs are aliases or masks, not unit files.
        if (info.isFile()) return { relPath, guestPath: `/${relPath}` };
      } catch {
        // not in this directory
      }
    }
  }
  return null;
}

/**
 * Enables a unit in the tree: symlinks in the .wants/.requires directories of
 * its WantedBy/RequiredBy targets, its aliases, and the units named by Also=.
 * Template instances (serial-getty@ttyS0.service) are linked to the template.
 */
export async function enableUnit(rootDir: string, unitName: string, seen = new Set<string>()): Promise<void> {
  if (seen.has(unitName)) return;
  seen.add(unitName);
  const unit = await findUnit(rootDir, unitName);
  if (unit === null) throw new Error(`cannot enable ${unitName}: no unit file in ${rootDir}`);
  const install = parseUnitInstall(await readTreeFile(rootDir, unit.relPath));
  const specifier = [...install.wantedBy, ...install.requiredBy, ...install.alias].find((name) => name.includes('%'));
  if (specifier !== undefined) throw new Error(`cannot enable ${unitName}: [Install] uses specifiers (${specifier})`);
  for (const target of install.wantedBy) await linkInTree(rootDir, `etc/systemd/system/${target}.wants/${unitName}`, unit.guestPath);
  for (const target of install.requiredBy) await linkInTree(rootDir, `etc/systemd/system/${target}.requires/${unitName}`, unit.guestPath);
  if (!unitName.includes('@')) {
    for (const alias of install.alias) await linkInTree(rootDir, `etc/systemd/system/${alias}`, unit.guestPath);
  }
  for (const also of install.also) await enableUnit(rootDir, also, seen);
}
