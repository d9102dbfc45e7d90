import type { Logger } from 'pino';
import type { VmRepository } from '../../db/repositories/vms.js';
import { describeBytes, mib } from '../../domain/byte-size.js';
import type { StorageGuard } from '../storage/storage-guard.js';
import type { VmRecords } from './vm-records.js';

export const hostDiskFull = 'host_disk_full';

// Below this much free (or BANGER_MIN_FREE_SPACE, when higher) the running VMs are asked whether
// a disk write stopped them; at or above it, the VMs that were are resumed.
const watchBelowBytes = 64 * mib;

export interface DiskStallWatchDeps {
  vms: VmRepository;
  storage: StorageGuard;
  logger: Logger;
}

/**
 * A guest that writes after its create was admitted can still fill the host's disk; QEMU then
 * stops it where it was (werror=enospc), and its disk write waits. The monitor shows such a VM as
 * paused with host_disk_full, and resumes it (the write is retried) once there is room again. Costs
 * a statfs per look while space is plentiful: the hypervisors are only asked while it is short.
 */
export class DiskStallWatch {
  constructor(
    private readonly deps: DiskStallWatchDeps,
    private readonly records: VmRecords,
    private readonly isBusy: (vmId: string) => boolean,
  ) {}

  async look(): Promise<void> {
    const { vms, storage, logger } = this.deps;
    const freeBytes = storage.freeBytes();
    const enough = Math.max(watchBelowBytes, storage.settings.minFreeBytes);
    if (freeBytes < enough) {
      for (const vm of vms.withStates(['running'])) {
        if (!vm.process || this.isBusy(vm.id)) continue;
        const stalled = await this.records.driverOf(vm).isStoppedOnDiskError(vm.process).catch(() => false);
        if (!stalled || this.isBusy(vm.id) || vms.get(vm.id)?.state !== 'running') continue;
        // The row's own update needs room on that full disk: withRoom gives up the reserve for it.
        storage.withRoom(() =>
          this.records.setState(vm.id, 'paused', {
            code: hostDiskFull,
            message:
              `the hypervisor stopped the guest when a write to its disk met a full host filesystem (${describeBytes(freeBytes)} free on the filesystem of ${storage.dir}); ` +
              `it goes on by itself once ${describeBytes(enough)} are free again, or with POST /vms/${vm.id}/resume`,
          }),
        );
        logger.warn({ vmId: vm.id, name: vm.name, freeBytes }, 'a guest was stopped by a full host disk; marked paused');
      }
      return;
    }
    for (const vm of vms.withStates(['paused'])) {
      if (vm.stateReason !== hostDiskFull || !vm.process || this.isBusy(vm.id)) continue;
      try {
        await this.records.driverOf(vm).resume(vm.process);
        storage.withRoom(() => this.records.setState(vm.id, 'running', null));
        logger.info({ vmId: vm.id, name: vm.name, freeBytes }, 'the host disk has room again; resumed a guest it had stopped');
      } catch (error) {
        logger.warn({ err: error, vmId: vm.id }, 'could not resume a guest a full disk had stopped');
      }
    }
  }
}
