import { DEFAULT_WORK_DISK } from './guest-spec.js';

/** Contents of the configuration files banger generates or edits in a Debian guest: fstab, hosts, sshd_config, shadow. */

export interface FstabOptions {
  /** Device or LABEL=/UUID= of the work disk. Default /dev/vdb. */
  workDisk?: string;
}

/** /etc/fstab: the work disk holds /root, and a guest started without it still boots. */
export function fstabContent(options: FstabOptions = {}): string {
  const workDisk = options.workDisk ?? DEFAULT_WORK_DISK;
  if (!/^(\/dev\/[A-Za-z0-9/_.-]+|LABEL=[A-Za-z0-9_.-]{1,16}|UUID=[0-9A-Fa-f-]+)$/.test(workDisk)) {
    throw new Error(`invalid work disk for fstab: ${JSON.stringify(workDisk)}`);
  }
  return [
    '# Written by banger. The root filesystem is mounted by the initramfs (root= on',
    '# the kernel command line). The work disk is the image\'s /root tree with the',
    '# SSH authorized_keys; nofail lets a guest started without it boot anyway.',
    '# Under software emulation on a busy host udev can take well over 10 s to',
    '# announce the disk, hence the generous device timeout.',
    `${workDisk}\t/root\text4\tdefaults,nofail,x-systemd.device-timeout=300s\t0\t2`,
    '',
  ].join('\n');
}

const HOSTNAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

export function hostsContent(hostname: string): string {
  if (!HOSTNAME_PATTERN.test(hostname)) throw new Error(`invalid hostname: ${JSON.stringify(hostname)}`);
  return [
    '127.0.0.1\tlocalhost',
    `127.0.1.1\t${hostname}`,
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
    '',
  ].join('\n');
}

/** Whether sshd_config reads /etc/ssh/sshd_config.d before any setting of its own (Debian 12's does). */
export function sshdIncludesDropIns(sshdConfig: string): boolean {
  for (const rawLine of sshdConfig.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    return /^Include\s+\/etc\/ssh\/sshd_config\.d\/\*\.conf$/i.test(line);
  }
  return false;
}

/** sshd keeps the first value it reads for a keyword: the drop-ins must be read first. */
export function withDropInsFirst(sshdConfig: string): string {
  return sshdIncludesDropIns(sshdConfig) ? sshdConfig : `Include /etc/ssh/sshd_config.d/*.conf\n${sshdConfig}`;
}

/** root's /etc/shadow entry with no usable password: `*` locks password logins but, unlike `!`, not key logins when sshd runs without PAM. */
export function lockRootPassword(shadow: string): string {
  let found = false;
  const lines = shadow.split('\n').map((line) => {
    if (!line.startsWith('root:')) return line;
    found = true;
    const fields = line.split(':');
    fields[1] = '*';
    return fields.join(':');
  });
  if (!found) throw new Error('/etc/shadow has no root entry');
  return lines.join('\n');
}
