import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { SnapshotRow } from '../../db/repositories/snapshots.js';
import type { SnapshotStep } from '../../hypervisor/snapshot.js';
import { BangerError } from '../errors.js';
import { now } from '../ids.js';
import type { StageOf } from '../jobs/job-kind.js';
import type { JobContext } from '../jobs/types.js';
import type { SnapshotStore } from '../snapshots/snapshot-store.js';
import type { Snapshot } from '../snapshots/snapshot-view.js';
import type { vmSnapshotJob } from './vm-jobs.js';
import type { VmDeps, VmRecords } from './vm-records.js';

type SnapshotContext = JobContext<StageOf<typeof vmSnapshotJob>>;

/** Where a VM goes on after snapshot `snapshotId`: named after it, so a crash recovery can tell whether the switch happened. */
export function continuedDisks(vmDir: string, snapshotId: string): { rootDisk: string; workDisk: string } {
  return { rootDisk: join(vmDir, `root-${snapshotId}.qcow2`), workDisk: join(vmDir, `work-${snapshotId}.qcow2`) };
}

/**
 * Takes a snapshot of a running (or paused) VM: its device and memory state and its disks, frozen
 * as layers in the snapshot's dir. The VM then goes on above those layers, or stops. A failure
 * leaves the VM as it was and no snapshot behind.
 */
export class VmSnapshotJob {
  constructor(
    private readonly deps: VmDeps,
    private readonly records: VmRecords,
    private readonly store: SnapshotStore,
  ) {}

  async run(vmId: string, snapshot: SnapshotRow, stop: boolean, context: SnapshotContext): Promise<{ snapshot: Snapshot }> {
    const { signal } = context;
    const vm = this.records.require(vmId);
    const wasPaused = vm.state === 'paused';
    const driver = this.records.driverOf(vm);
    try {
      context.stage('validate', `${vm.name}: ${vm.cpus} vCPU, ${vm.memoryMib} MiB${vm.memoryFile ? ', RAM in a file' : ''}`);
      if (!vm.process || !driver.isRunning(vm.process)) {
        throw new BangerError('vm-state-conflict', `VM ${vm.name} has no running hypervisor process to snapshot`, { hint: `see its state: GET /vms/${vm.id}` });
      }
      const process = vm.process;
      const vmDir = this.records.vmDir(vm);
      const disks = this.records.disksOf(vm);
      context.scratch(snapshot.dir);
      await mkdir(snapshot.dir, { recursive: true, mode: 0o700 });
      const continueOn = stop ? undefined : continuedDisks(vmDir, snapshot.id);

      const artifacts = await driver.snapshot(
        process,
        {
          dir: snapshot.dir,
          rootDisk: disks.rootDisk,
          workDisk: disks.workDisk,
          after: stop ? 'stop' : 'resume',
          continueOn,
          memory: vm.memoryFile ? { file: vm.memoryFile, shared: true } : undefined,
        },
        {
          signal,
          onStep: (step: SnapshotStep) => {
            // From the freeze on the VM may run on layers in the snapshot's dir: no crash recovery may remove it.
            if (step === 'freeze_disks') context.commit(() => undefined);
            context.stage(step);
          },
        },
      );

      if (stop) {
        context.skip('resume', 'stop: true');
        // A stopped source can start again, cold, from fresh layers over what it froze.
        const fresh = await driver.cloneDisks(artifacts, vmDir, { signal });
        this.records.setState(vm.id, 'stopped', { code: 'stop_requested', message: `stopped after snapshot ${snapshot.name}` }, {
          process: null,
          disks: fresh,
          baseSnapshotId: snapshot.id,
        });
      } else {
        context.skip('stop', 'the VM goes on');
        this.deps.vms.update(vm.id, { disks: continueOn, baseSnapshotId: snapshot.id, updatedAt: now() });
        if (wasPaused) await driver.pause(process);
      }
      context.stage('persisted', snapshot.dir);
      this.store.repository.update(snapshot.id, { state: 'ready', artifacts, sizeBytes: artifacts.sizeBytes });
      this.deps.logger.info({ vmId: vm.id, snapshotId: snapshot.id, sizeBytes: artifacts.sizeBytes }, 'snapshot taken');
      return { snapshot: this.store.view(this.store.repository.get(snapshot.id) as SnapshotRow) };
    } catch (error) {
      // The driver left the VM as it was: the snapshot goes (its dir with the job's scratch, or here).
      await this.store.discard(snapshot.id).catch((cleanup: unknown) => this.deps.logger.error({ err: cleanup, snapshotId: snapshot.id }, 'could not remove a failed snapshot'));
      throw error;
    }
  }
}
