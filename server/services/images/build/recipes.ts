import type { WriteStream } from 'node:fs';
import { buildBusyboxRootfs } from '../../../guest/busybox-rootfs.js';
import type { JobContext } from '../../jobs/types.js';
import type { BuildPlan, BuildSource } from './build-plan.js';
import type { HostTool } from './host-tools.js';
import type { StepRunner } from './image-builder.js';

export interface RecipeTools {
  context: JobContext;
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

const busybox: RootfsRecipe = {
  hostTools: (plan) => toolsFor(plan),
  bootstrap: async (rootDir, _plan, { context, log }) => {
    await buildBusyboxRootfs(rootDir, { signal: context.signal, log });
  },
  // The busybox tree is made with its init, network scripts and agent already in place.
  installGuestFiles: async () => {},
};

export function recipeFor(source: BuildSource): RootfsRecipe {
  if (source.kind === 'recipe' && source.recipe === 'busybox') return busybox;
  throw new Error(`no recipe for ${JSON.stringify(source)} yet`);
}
