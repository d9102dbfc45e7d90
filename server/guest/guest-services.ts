import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImageService } from '../domain/image.js';
import { enableUnit } from './debian/systemd-units.js';
import { readTreeFile, writeTreeFile } from './debian/tree-files.js';
import { guestFiles } from './guest-files.js';

/**
 * Puts an image's services into a guest tree (docs/guest-agent.md, "Services"): each one's
 * definition under /etc/banger/services/NAME, the runner that starts it and records how it
 * ended, and what the tree's init starts at boot: a systemd unit on Debian, an rc.d script on
 * busybox. The guest agent reports on them from the same files.
 */

export const SERVICE_RUNNER_GUEST_PATH = '/usr/local/sbin/banger-service';
export const serviceDefinitionDir = (name: string): string => `etc/banger/services/${name}`;
export const serviceUnitName = (name: string): string => `banger-service-${name}.service`;

export type GuestInit = 'systemd' | 'busybox';

export class GuestServiceError extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'GuestServiceError';
  }
}

/** Which init the tree boots with; null for a tree banger cannot start services in. */
export function guestInitOf(rootDir: string): GuestInit | null {
  if (existsSync(join(rootDir, 'etc', 'inittab')) && existsSync(join(rootDir, 'bin', 'busybox'))) return 'busybox';
  if (['lib/systemd/systemd', 'usr/lib/systemd/systemd'].some((path) => existsSync(join(rootDir, path)))) return 'systemd';
  return null;
}

export async function installGuestServices(rootDir: string, services: readonly ImageService[]): Promise<void> {
  if (services.length === 0) return;
  const init = guestInitOf(rootDir);
  if (init === null) {
    throw new GuestServiceError('The image has neither systemd nor busybox init, so its services would not start', 'build from a recipe, or from a Debian or busybox rootfs');
  }
  const users = await guestUsers(rootDir);
  const unknown = services.filter((service) => service.user !== null && !users.has(service.user));
  if (unknown.length > 0) {
    const list = unknown.map((service) => `${service.name} runs as ${service.user}`).join(', ');
    throw new GuestServiceError(`The image has no such user: ${list}`, `use a user the image has (${[...users].slice(0, 8).join(', ')}), or install the package that adds it`);
  }
  await writeTreeFile(rootDir, SERVICE_RUNNER_GUEST_PATH.slice(1), await readFile(guestFiles.serviceRunner), 0o755);
  for (const service of services) {
    const dir = serviceDefinitionDir(service.name);
    // Commands may carry secrets: only root (the runner, the agent) reads them.
    await writeTreeFile(rootDir, `${dir}/command`, service.command, 0o600);
    if (service.user !== null) await writeTreeFile(rootDir, `${dir}/user`, `${service.user}\n`);
    if (service.port !== null) await writeTreeFile(rootDir, `${dir}/port`, `${service.port}\n`);
    if (init === 'systemd') {
      await writeTreeFile(rootDir, `etc/systemd/system/${serviceUnitName(service.name)}`, systemdUnit(service.name));
      await enableUnit(rootDir, serviceUnitName(service.name));
    } else {
      await writeTreeFile(rootDir, `etc/rc.d/S50-service-${service.name}`, rcScript(service.name), 0o755);
    }
  }
}

/**
 * No restart: a service that exits stays down and shows, with its log, in the VM's state
 * reason, instead of flapping where nobody sees it.
 */
function systemdUnit(name: string): string {
  return `# banger service ${name}, declared by the image build (docs/guest-agent.md, "Services").
[Unit]
Description=banger service ${name}
After=network.target

[Service]
Type=simple
ExecStart=${SERVICE_RUNNER_GUEST_PATH} ${name}
Restart=no
# The runner ends with the status of the command it stopped: 143 for the TERM of a stop.
SuccessExitStatus=143

[Install]
WantedBy=multi-user.target
`;
}

/** Run by /etc/init.d/rcS, which waits for each script: the service goes to the background, in its own session. */
function rcScript(name: string): string {
  return `#!/bin/sh
# banger service ${name}, declared by the image build (docs/guest-agent.md, "Services").
setsid ${SERVICE_RUNNER_GUEST_PATH} ${name} </dev/null >/dev/null 2>&1 &
`;
}

async function guestUsers(rootDir: string): Promise<Set<string>> {
  const passwd = await readTreeFile(rootDir, 'etc/passwd').catch(() => '');
  return new Set(
    passwd
      .split('\n')
      .map((line) => line.split(':')[0] ?? '')
      .filter((name) => name !== ''),
  );
}
