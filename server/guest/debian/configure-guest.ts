import { chmod, lstat, mkdir } from 'node:fs/promises';
import { guestFiles } from '../guest-files.js';
import { fstabContent, hostsContent, lockRootPassword, sshdIncludesDropIns, withDropInsFirst, type FstabOptions } from './config-files.js';
import { AGENT_GUEST_PATH, debianGuestFiles, DEFAULT_GUEST_HOSTNAME } from './guest-spec.js';
import { enableUnit } from './systemd-units.js';
import { copyIntoTree, linkInTree, listTreeDir, readTreeFile, removeFromTree, treePath, writeTreeFile } from './tree-files.js';

/**
 * Turns a Debian tree into a banger guest; what the Debian recipes (a bootstrap,
 * or a base rootfs with packages added) run once the packages are installed.
 */

export interface DebianGuestOptions extends FstabOptions {
  hostname?: string;
}

/** Timers that would run apt in the background of short-lived guests and hold the dpkg lock a job needs. */
const DISABLED_TIMERS = ['apt-daily.timer', 'apt-daily-upgrade.timer'];

/**
 * Configures a Debian tree (with DEBIAN_GUEST_PACKAGES installed)
 * as a banger guest: serial console, DHCP through systemd-networkd, DNS through
 * systemd-resolved, key-only sshd with per-guest host keys, the guest agent,
 * the work disk on /root, hostname, locked root password.
 */
export async function configureDebianGuest(rootDir: string, options: DebianGuestOptions = {}): Promise<void> {
  const hostname = options.hostname ?? DEFAULT_GUEST_HOSTNAME;
  await writeTreeFile(rootDir, 'etc/hostname', `${hostname}\n`);
  await writeTreeFile(rootDir, 'etc/hosts', hostsContent(hostname));
  await writeTreeFile(rootDir, 'etc/fstab', fstabContent(options));
  await writeTreeFile(rootDir, 'etc/shadow', lockRootPassword(await readTreeFile(rootDir, 'etc/shadow')), 0o640);

  await copyIntoTree(rootDir, debianGuestFiles.networkdDhcp, 'etc/systemd/network/80-banger-dhcp.network');
  await enableUnit(rootDir, 'systemd-networkd.service');
  await enableUnit(rootDir, 'systemd-resolved.service');
  // Programs that read /etc/resolv.conf directly go through resolved's stub.
  await linkInTree(rootDir, 'etc/resolv.conf', '../run/systemd/resolve/stub-resolv.conf');
  await enableUnit(rootDir, 'serial-getty@ttyS0.service');

  await copyIntoTree(rootDir, debianGuestFiles.sshdDropIn, 'etc/ssh/sshd_config.d/banger.conf');
  const sshdConfig = await readTreeFile(rootDir, 'etc/ssh/sshd_config');
  if (!sshdIncludesDropIns(sshdConfig)) await writeTreeFile(rootDir, 'etc/ssh/sshd_config', withDropInsFirst(sshdConfig));
  for (const name of await listTreeDir(rootDir, 'etc/ssh')) {
    if (/^ssh_host_.*_key(\.pub)?$/.test(name)) await removeFromTree(rootDir, `etc/ssh/${name}`);
  }
  await copyIntoTree(rootDir, debianGuestFiles.sshHostKeysUnit, 'etc/systemd/system/banger-ssh-hostkeys.service');
  await enableUnit(rootDir, 'banger-ssh-hostkeys.service');
  await copyIntoTree(rootDir, debianGuestFiles.sshWorkDiskDropIn, 'etc/systemd/system/ssh.service.d/banger-work-disk.conf');
  await enableUnit(rootDir, 'ssh.service');

  await copyIntoTree(rootDir, guestFiles.agent, AGENT_GUEST_PATH.slice(1), 0o755);
  await copyIntoTree(rootDir, debianGuestFiles.agentUnit, 'etc/systemd/system/banger-agent.service');
  await enableUnit(rootDir, 'banger-agent.service');
  await copyIntoTree(rootDir, debianGuestFiles.modulesLoad, 'etc/modules-load.d/banger.conf');

  for (const timer of DISABLED_TIMERS) await removeFromTree(rootDir, `etc/systemd/system/timers.target.wants/${timer}`);
  // /root is a mount point for the work disk; keep it private even when that is missing.
  const rootHome = await treePath(rootDir, 'root');
  await mkdir(rootHome, { recursive: true });
  if (!(await lstat(rootHome)).isDirectory()) throw new Error(`${rootHome} is not a directory`);
  await chmod(rootHome, 0o700);
}
