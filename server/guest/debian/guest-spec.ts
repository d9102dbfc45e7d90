import { join } from 'node:path';
import { projectRoot } from '../../project-root.js';

/**
 * What a banger Debian guest is made of: the static files written into its
 * tree, the packages configureDebianGuest relies on, and guest paths and names
 * other code refers to.
 */

const debianFilesDir = join(projectRoot, 'server', 'guest', 'files', 'debian');

/** Static files for Debian guests, kept as plain files so they can be read and linted on their own. */
export const debianGuestFiles = {
  /** systemd unit running the guest agent; installed as /etc/systemd/system/banger-agent.service. */
  agentUnit: join(debianFilesDir, 'banger-agent.service'),
  /** Oneshot unit that creates the SSH host keys a guest lacks, before ssh.service. */
  sshHostKeysUnit: join(debianFilesDir, 'banger-ssh-hostkeys.service'),
  /** ssh.service drop-in ordering sshd after the work disk's mount on /root. */
  sshWorkDiskDropIn: join(debianFilesDir, 'ssh-work-disk.conf'),
  /** systemd-networkd: DHCP on the first ethernet NIC. */
  networkdDhcp: join(debianFilesDir, '80-banger-dhcp.network'),
  /** sshd_config.d drop-in: key logins only. */
  sshdDropIn: join(debianFilesDir, 'sshd-banger.conf'),
  /** /etc/modules-load.d entry for the agent's virtio-serial port. */
  modulesLoad: join(debianFilesDir, 'modules-load.conf'),
  /** Runs apt-get in a tree inside private namespaces; see its header. */
  chrootApt: join(debianFilesDir, 'chroot-apt'),
} as const;

/**
 * What configureDebianGuest relies on being installed: systemd as init, udev (networkd
 * only configures links udev has processed), networkd's DNS partner resolved, sshd,
 * iproute2 (the agent reports addresses with `ip`) and e2fsprogs (fsck of the work disk).
 */
export const DEBIAN_GUEST_PACKAGES: readonly string[] = [
  'systemd-sysv',
  'udev',
  'systemd-resolved',
  'openssh-server',
  'iproute2',
  'e2fsprogs',
  // The kernel runs /sbin/modprobe to load modules on demand (overlay, netfilter, tun…).
  'kmod',
];

export const AGENT_GUEST_PATH = '/usr/local/bin/banger-agent';
export const DEFAULT_GUEST_HOSTNAME = 'banger';
/** The work seed is the second virtio disk the hypervisor attaches. */
export const DEFAULT_WORK_DISK = '/dev/vdb';
