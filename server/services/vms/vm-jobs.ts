import { defineJobKind } from '../jobs/job-kind.js';

export const bootStages = ['spawn', 'kernel_boot', 'agent_ready', 'ports_ready', 'running'] as const;
/** What every boot goes through, whichever job boots: create, start or restart. */
export type BootStage = (typeof bootStages)[number];

export const vmCreateJob = defineJobKind('vm.create', ['validate', 'clone_disks', 'seed_work_disk', 'allocate_network', ...bootStages] as const);
/** POST /vms with a snapshot (or an image's warm snapshot): restores instead of booting. Its kind in the API stays vm.create. */
export const vmRestoreJob = defineJobKind('vm.create', ['validate', 'clone_disks', 'restore_state', 'resume', 'reidentify', 'agent_ready', 'ports_ready', 'running'] as const);
export const vmStartJob = defineJobKind('vm.start', ['validate', ...bootStages] as const);
export const vmStopJob = defineJobKind('vm.stop', ['stop_hypervisor', 'stopped'] as const);
export const vmRestartJob = defineJobKind('vm.restart', ['stop_hypervisor', 'validate', ...bootStages] as const);
/** Pause and resume are jobs so that the one-job-per-VM rule covers them; the API waits for them. */
export const vmPauseJob = defineJobKind('vm.pause', ['pause'] as const);
export const vmResumeJob = defineJobKind('vm.resume', ['resume'] as const);
export const vmDeleteJob = defineJobKind('vm.delete', ['stop_hypervisor', 'remove_files', 'release_network', 'deleted'] as const);

/**
 * DELETE /vms?label=…: one job over every VM the labels selected, one `delete <name>` stage per
 * VM. Its kind in the API stays vm.delete, like the delete of one VM.
 */
export const vmDeleteSelectedJob = defineJobKind('vm.delete', ['delete'] as const, { eachTarget: true });

/** Taking a snapshot of a VM; the VM goes on (resume) or ends (stop), never both. */
export const vmSnapshotJob = defineJobKind('vm.snapshot', ['validate', 'pause', 'save_state', 'freeze_disks', 'resume', 'stop', 'persisted'] as const);

/** POST /images/{id}/warm: boot a VM from the image, snapshot it ready, delete the VM. */
export const imageWarmJob = defineJobKind('image.warm', ['boot', 'settle', 'snapshot', 'remove_vm', 'persisted'] as const);
