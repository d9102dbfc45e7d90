import type { SnapshotRow } from '../../db/repositories/snapshots.js';
import type { StageOf } from '../jobs/job-kind.js';
import type { JobContext } from '../jobs/types.js';
import type { SnapshotStore } from '../snapshots/snapshot-store.js';
import type { Snapshot } from '../snapshots/snapshot-view.js';
import { now } from '../ids.js';
import { waitForQuietGuest } from './guest-settle.js';
import { queryAgent } from '../../guest/agent-protocol.js';
import type { PortRequest } from './port-allocator.js';
import type { VmBootJobs } from './vm-boot-jobs.js';
import type { imageWarmJob } from './vm-jobs.js';
import type { VmDeps, VmRecords } from './vm-records.js';
import type { VmSnapshotJob } from './vm-snapshot-job.js';
import type { VmTeardown } from './vm-teardown.js';

type WarmContext = JobContext<StageOf<typeof imageWarmJob>>;

/** Rarely: each resend is one more request the guest answers, which is what the drain clears. */
const DRAIN_RESEND_MS = 5000;

/**
 * POST /images/{id}/warm: boots a VM from the image with its RAM in a file, waits until its
 * agent and ports are ready, snapshots it (the RAM file becomes the snapshot's memory, so clones
 * map it copy-on-write), deletes the VM and records the snapshot on the image. The steps run
 * inside this one job (not as jobs of their own), so it needs a single job slot.
 */
export class VmWarmJob {
  constructor(
    private readonly deps: VmDeps,
    private readonly records: VmRecords,
    private readonly bootJobs: VmBootJobs,
    private readonly snapshotJob: VmSnapshotJob,
    private readonly teardown: VmTeardown,
    private readonly store: SnapshotStore,
  ) {}

  async run(imageId: string, vmId: string, snapshot: SnapshotRow, portRequests: PortRequest[], context: WarmContext): Promise<{ snapshot: Snapshot }> {
    try {
      const vm = this.records.require(vmId);
      context.stage('boot', `VM ${vm.name}: ${vm.cpus} vCPU, ${vm.memoryMib} MiB, RAM in ${vm.memoryFile}`);
      await this.bootJobs.create(vmId, imageId, portRequests, quiet(context));

      context.stage('settle', 'until the guest is idle, at most 60 s');
      const settled = await this.settle(vmId, context.signal);

      context.stage('snapshot', `${snapshot.name}; ${settled}`);
      await this.snapshotJob.run(vmId, snapshot, true, quiet(context));

      context.stage('remove_vm', vm.name);
      await this.teardown.destroy(vmId);

      context.stage('persisted', `image ${imageId} restores snapshot ${snapshot.name} by default`);
      await this.store.dropWarm(imageId, 'a new warm snapshot replaces it');
      const image = this.deps.images.findByIdOrName(imageId);
      if (image) this.deps.images.upsert({ ...image, warmSnapshotId: snapshot.id, updatedAt: now() });
      return { snapshot: this.store.view(this.store.repository.get(snapshot.id) as SnapshotRow) };
    } catch (error) {
      await this.teardown.destroy(vmId).catch((cleanup: unknown) => this.deps.logger.error({ err: cleanup, vmId }, 'could not remove the VM of a failed warm-up'));
      await this.store.discard(snapshot.id).catch((cleanup: unknown) => this.deps.logger.error({ err: cleanup, snapshotId: snapshot.id }, 'could not remove the snapshot of a failed warm-up'));
      throw error;
    }
  }

  /**
   * Waits for the booted guest to go idle; says how that ended, for the snapshot stage's detail.
   * First the agent answers a ping: requests the boot's waits resent while the guest was busy
   * may still be queued in it, and a snapshot would hand that queue to every clone, ahead of
   * the clone's own reidentify.
   */
  private async settle(vmId: string, signal: AbortSignal): Promise<string> {
    const vm = this.records.require(vmId);
    if (!vm.process) return 'guest not running';
    const driver = this.records.driverOf(vm);
    await queryAgent(driver.agentTransport(vm.process), { command: 'ping', timeoutMs: this.deps.settings.agentTimeoutMs, resendMs: DRAIN_RESEND_MS, signal });
    const result = await waitForQuietGuest(driver, vm.process, { signal });
    const share = `${Math.round(result.lastShare * 100)} % of a CPU`;
    const seconds = (result.waitedMs / 1000).toFixed(1);
    this.deps.logger.info({ vmId, ...result }, 'warm-up guest settled');
    return result.settled ? `guest idle after ${seconds} s (${share})` : `guest still busy after ${seconds} s (${share})`;
  }
}

/**
 * The warm job's context for a step that reports stages of its own (a create, a snapshot): their
 * stage names are not the warm job's, so they go to the log only; everything else passes through.
 */
function quiet<Stage extends string>(context: WarmContext): JobContext<Stage> {
  const silent = { stage: () => undefined, skip: () => undefined };
  return { ...context, ...silent, forTarget: () => silent } as JobContext<Stage>;
}
