import { existsSync, type WriteStream } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { extractBaseRootfs, installPackagesInto } from '../../../guest/base-rootfs.js';
import { bootstrapDebianRootfs, DOCKER_PACKAGES } from '../../../guest/debian-rootfs.js';
import { guestFiles } from '../../../guest/guest-files.js';
import { configureDebianGuest } from '../../../guest/debian/configure-guest.js';
import { DEBIAN_GUEST_PACKAGES } from '../../../guest/debian/guest-spec.js';
import { missingPackages, type InstalledPackage } from '../../../guest/debian/packages.js';
import { BangerError } from '../../errors.js';
import { buildBusyboxRootfs } from '../../../guest/busybox-rootfs.js';
import { DROPBEAR_HOST_PATH, SFTP_SERVER_HOST_PATH } from '../../../guest/busybox-ssh.js';
import type { BuildContext } from '../image-jobs.js';
import { suppliedFile, type BuildPlan, type BuildSource } from './build-plan.js';
import { withRecheckedFile } from '../preflight.js';
import type { HostTool } from './host-tools.js';
import type { StepRunner } from './step-runner.js';

export interface RecipeTools {
  context: BuildContext;
  log: WriteStream;
  step: StepRunner;
}

/** How one kind of source becomes a root filesystem tree. */
export interface RootfsRecipe {
  hostTools(plan: BuildPlan): HostTool[];
  bootstrap(rootDir: string, plan: BuildPlan, tools: RecipeTools): Promise<void>;
  /** Absent when the bootstrap installs the packages itself. */
  installPackages?(rootDir: string, plan: BuildPlan, tools: RecipeTools): Promise<void>;
  installGuestFiles(rootDir: string, plan: BuildPlan, tools: RecipeTools): Promise<void>;
}

const commonTools: HostTool[] = [
  { command: 'mkfs.ext4', debianPackage: 'e2fsprogs' },
  { command: 'chroot', debianPackage: 'coreutils' },
  { command: 'debugfs', debianPackage: 'e2fsprogs' },
  { command: 'cp', debianPackage: 'coreutils' },
  { command: 'du', debianPackage: 'coreutils' },
  { command: '/bin/busybox', debianPackage: 'busybox-static' },
];
const kernelFetchTools: HostTool[] = [
  { command: 'apt-get', debianPackage: 'apt' },
  { command: 'dpkg-deb', debianPackage: 'dpkg' },
];

function toolsFor(plan: BuildPlan, extra: HostTool[] = []): HostTool[] {
  return [...commonTools, ...(plan.kernel ? [] : kernelFetchTools), ...extra];
}

const busyboxTools: HostTool[] = [
  { command: 'ldd', debianPackage: 'libc-bin' },
  { command: DROPBEAR_HOST_PATH, debianPackage: 'dropbear-bin' },
  { command: SFTP_SERVER_HOST_PATH, debianPackage: 'openssh-sftp-server' },
];

const busybox: RootfsRecipe = {
  hostTools: (plan) => toolsFor(plan, busyboxTools),
  bootstrap: async (rootDir, _plan, { context, log }) => {
    await buildBusyboxRootfs(rootDir, { signal: context.signal, log });
  },
  // The busybox tree is made with its init, network scripts and agent already in place.
  installGuestFiles: async () => {},
};

const debianTools: HostTool[] = [
  { command: 'mmdebstrap', debianPackage: 'mmdebstrap' },
  { command: 'unshare', debianPackage: 'util-linux' },
  { command: 'mknod', debianPackage: 'coreutils' },
];

const debianBookworm: RootfsRecipe = {
  hostTools: (plan) => toolsFor(plan, debianTools),
  // mmdebstrap installs the requested packages in the same run; its progress moves the stage on.
  bootstrap: async (rootDir, plan, { context, log }) => {
    const installed = await bootstrapDebianRootfs(rootDir, {
      packages: plan.packages,
      docker: plan.docker,
      signal: context.signal,
      log,
      onSpawn: (pid) => context.trackProcess(pid),
      onPhase: (phase) => {
        if (phase === 'install_packages' && plan.packages.length + (plan.docker ? 1 : 0) > 0) {
          context.stage('install_packages', plan.packages.join(' ') || 'docker');
        }
      },
    });
    requireInstalled(plan, installed);
  },
  installGuestFiles: async () => {},
};

const baseRootfs: RootfsRecipe = {
  // Packages may be needed even when none are requested: a Debian base gets the guest's own.
  hostTools: (plan) => toolsFor(plan, debianTools),
  bootstrap: async (rootDir, plan, { context, log }) => {
    if (plan.source.kind !== 'baseRootfs') throw new Error('baseRootfs recipe without a base rootfs');
    await withRecheckedFile(suppliedFile(plan, 'baseRootfs', plan.source.path, 'ext4'), (checked) => extractBaseRootfs(checked, rootDir, { signal: context.signal, log }));
  },
  installPackages: async (rootDir, plan, { context, log }) => {
    const installed = await installPackagesInto(rootDir, [...plan.packages, ...(plan.docker ? DOCKER_PACKAGES : [])], {
      signal: context.signal,
      log,
      onSpawn: (pid) => context.trackProcess(pid),
    });
    requireInstalled(plan, installed);
  },
  // A Debian tree is made a banger guest (with the packages that needs); a banger busybox tree already is one.
  installGuestFiles: async (rootDir, _plan, { context, log }) => {
    if (existsSync(join(rootDir, 'etc', 'debian_version')) && existsSync(join(rootDir, 'usr', 'bin', 'apt-get'))) {
      await installPackagesInto(rootDir, DEBIAN_GUEST_PACKAGES, { signal: context.signal, log, onSpawn: (pid) => context.trackProcess(pid) });
      await configureDebianGuest(rootDir);
      return;
    }
    if (existsSync(join(rootDir, 'etc', 'inittab')) && existsSync(join(rootDir, 'bin', 'busybox'))) {
      await copyFile(guestFiles.agent, join(rootDir, 'usr', 'sbin', 'banger-agent'));
      return;
    }
    throw new BangerError('image-build-failed', 'The base rootfs is neither a Debian system nor a busybox system', {
      hint: 'start from a Debian rootfs (e.g. one banger built with --recipe debian-bookworm) or use a recipe',
    });
  },
};

function requireInstalled(plan: BuildPlan, installed: InstalledPackage[]): void {
  const missing = missingPackages(plan.packages, installed);
  if (missing.length > 0) {
    throw new BangerError('image-build-failed', `Packages missing after installation: ${missing.join(', ')}`, {
      hint: 'the build log shows what apt did',
    });
  }
}

export function recipeFor(source: BuildSource): RootfsRecipe {
  if (source.kind === 'baseRootfs') return baseRootfs;
  return source.recipe === 'busybox' ? busybox : debianBookworm;
}
