import type { VmRow } from '../../db/repositories/vms.js';
import { BangerError } from '../errors.js';
import type { VmSettings } from './vm-settings.js';

/**
 * The state reason of a VM created with `start: false`: while its create job runs (so that it
 * does not count as a VM on its way to running) and once it is stopped with its disks made.
 */
export const createdStoppedCode = 'created_stopped';

export function createdStoppedReason(state: 'creating' | 'stopped'): { code: string; message: string } {
  return state === 'creating'
    ? { code: createdStoppedCode, message: 'being created without starting (start: false); it ends stopped' }
    : { code: createdStoppedCode, message: 'created without starting (start: false); POST /vms/{id}/start boots it' };
}

/**
 * Whether a VM counts against BANGER_MAX_VMS: it runs or is on its way to or from running
 * (a create that boots or restores, starting, running, paused, stopping, a delete of a VM whose
 * process is still recorded). Stopped and failed VMs, and creates with `start: false`, do not.
 */
export function countsAgainstMaxVms(vm: Pick<VmRow, 'state' | 'stateReason' | 'process'>): boolean {
  switch (vm.state) {
    case 'creating':
      return vm.stateReason !== createdStoppedCode;
    case 'starting':
    case 'running':
    case 'paused':
    case 'stopping':
      return true;
    case 'deleting':
      return vm.process !== null;
    default:
      return false;
  }
}

export interface VmCounts {
  /** Every VM row, whatever its state. */
  records: number;
  /** Those that count against BANGER_MAX_VMS. */
  running: number;
}

/**
 * The problem (409 vm-limit-reached) that refuses one more VM row (`record`) and/or one more VM
 * that runs (`run`), or null when the limits leave room.
 */
export function vmLimitProblem(counts: VmCounts, settings: Pick<VmSettings, 'maxVms' | 'maxVmRecords'>, adding: { record: boolean; run: boolean }): BangerError | null {
  if (adding.record && counts.records >= settings.maxVmRecords) {
    return new BangerError('vm-limit-reached', `This daemon already has ${counts.records} VMs in any state (stopped and failed ones too); BANGER_MAX_VM_RECORDS is ${settings.maxVmRecords}`, {
      hint: 'delete VMs you no longer need (banger vm ls --state stopped, --state failed), or raise BANGER_MAX_VM_RECORDS',
    });
  }
  if (adding.run && counts.running >= settings.maxVms) {
    return new BangerError('vm-limit-reached', `This daemon already runs ${counts.running} VMs (running, or starting, stopping, being created); BANGER_MAX_VMS is ${settings.maxVms}`, {
      hint: 'stop or delete VMs you no longer need (banger vm ls --state running), or raise BANGER_MAX_VMS',
    });
  }
  return null;
}
