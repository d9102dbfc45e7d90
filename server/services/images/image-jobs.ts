import { defineJobKind } from '../jobs/job-kind.js';
import type { JobContext } from '../jobs/types.js';

export const imagePromoteJob = defineJobKind('image.promote', [
  'copy_rootfs',
  'copy_work_seed',
  'seed_ssh_key',
  'write_metadata',
  'activate_artifacts',
] as const);

export const imageBuildJob = defineJobKind('image.build', [
  'preflight',
  'fetch_kernel',
  'bootstrap_rootfs',
  'install_packages',
  'install_modules',
  'install_guest_files',
  'make_initrd',
  'make_rootfs',
  'make_work_seed',
  'seed_ssh_key',
  'write_metadata',
  'persisted',
] as const);

export type BuildStage = (typeof imageBuildJob.stages)[number];
export type BuildContext = JobContext<BuildStage>;
