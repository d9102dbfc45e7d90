import { join } from 'node:path';
import { projectRoot } from '../project-root.js';

/**
 * Files that go into guest images, kept as plain files in server/guest/files so
 * they can be read, linted and run as shell scripts on their own. Resolved from
 * the package root because dist/ holds only compiled code.
 */
const filesDir = join(projectRoot, 'server', 'guest', 'files');

export const guestFiles = {
  /** The initramfs /init: loads modules, mounts root=, switch_root to init=. */
  initrdInit: join(filesDir, 'initrd-init'),
  /** The guest agent (POSIX sh); installed as /usr/sbin/banger-agent. */
  agent: join(filesDir, 'banger-agent'),
  /** Starts one of an image's services and records how it ended: /usr/local/sbin/banger-service. */
  serviceRunner: join(filesDir, 'banger-service'),
  /** busybox init configuration of the busybox image: /etc/inittab. */
  busyboxInittab: join(filesDir, 'busybox-inittab'),
  /** /etc/init.d/rcS of the busybox image: mounts, hostname, network. */
  busyboxRcS: join(filesDir, 'busybox-rcS'),
  /** /etc/init.d/rcK of the busybox image: run at poweroff. */
  busyboxRcK: join(filesDir, 'busybox-rcK'),
  /** The HTTP probe service's state page of the busybox image: /srv/www/cgi-bin/state. */
  busyboxStateCgi: join(filesDir, 'busybox-state-cgi'),
  /** udhcpc event script: /usr/share/udhcpc/default.script. */
  udhcpcScript: join(filesDir, 'udhcpc-default.script'),
} as const;

export type GuestFile = keyof typeof guestFiles;
