import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { BangerError } from '../../errors.js';

export interface HostTool {
  command: string;
  /** The Debian package that provides it. */
  debianPackage: string;
}

// sbin dirs hold mkfs.ext4 and debugfs, but are not on every user's PATH.
const searchDirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];

export async function findCommand(command: string): Promise<string | null> {
  if (command.startsWith('/')) return (await isExecutable(command)) ? command : null;
  for (const dir of searchDirs) {
    if (!dir) continue;
    const candidate = join(dir, command);
    if (await isExecutable(candidate)) return candidate;
  }
  return null;
}

/** Fails with one problem naming every missing tool and the one command that installs them all. */
export async function requireHostTools(tools: readonly HostTool[]): Promise<void> {
  const missing: HostTool[] = [];
  for (const tool of tools) {
    if (!(await findCommand(tool.command))) missing.push(tool);
  }
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((tool) => tool.debianPackage))];
  throw new BangerError('host-tool-missing', `This build needs ${missing.map((tool) => tool.command).join(', ')}, not found on the host`, {
    hint: `install them: apt-get install -y ${packages.join(' ')} (or run scripts/install-host-deps.sh)`,
  });
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
