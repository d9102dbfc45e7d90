import { access, mkdir } from 'node:fs/promises';
import type { SnapshotRow } from '../../db/repositories/snapshots.js';
import { guestHostnameFor, reidentifyGuest } from '../../guest/agent-protocol.js';
import { BangerError } from '../errors.js';
import { now } from '../ids.js';
import type { StageOf } from '../jobs/job-kind.js';
import type { JobContext } from '../jobs/types.js';
import { PhaseClock } from './phase-clock.js';
import type { PortAllocator, PortRequest } from './port-allocator.js';
import { launchPublishing, waitForPublishedPorts } from './vm-boot.js';
import type { VmBootJobs } from './vm-boot-jobs.js';
import type { vmRestoreJob } from './vm-jobs.js';
import type { VmDeps, VmRecords } from './vm-records.js';
import type { Vm } from './vm-view.js';

// A restored agent is idle-polling its port, not booting: a lost request is worth resending soon.
const RESTORED_AGENT_RESEND_MS = 250;
/**
 * A silent forwarded connection counts as a listening service after this long (see port-probe.ts).
 * A restored guest is already up and answers a refused connection within milliseconds, where a
 * booting one under emulation may take a second.
 */
const RESTORED_PORT_HOLD_MS = 250;

/**
 * A create that restores a snapshot instead of booting: disks as layers over the snapshot's
 * frozen ones, the saved guest loaded and resumed, then made its own machine (hostname, entropy,
 * clock, SSH host keys) before it counts as ready. A failure ends like a failed create.
 */
export class VmRestoreJob {
  constructor(
    private readonly deps: VmDeps,
    private readonly records: VmRecords,
    private readonly bootJobs: VmBootJobs,
    private readonly ports: PortAllocator,
  ) {}

  async run(id: string, snapshot: SnapshotRow, portRequests: PortRequest[], context: JobContext<StageOf<typeof vmRestoreJob>>): Promise<{ vm: Vm }> {
    const clock = new PhaseClock(context);
    const { signal } = context;
    try {
      const vm = this.records.require(id);
      const driver = this.records.driverOf(vm);
      const image = this.records.requireImage(vm.imageId);
      const artifacts = snapshot.artifacts;
      clock.enter('validate', `snapshot ${snapshot.name}`);
      if (!artifacts) throw new BangerError('snapshot-not-ready', `Snapshot ${snapshot.name} has no saved state`, { hint: 'take the snapshot again' });
      for (const path of [artifacts.stateFile, artifacts.memoryFile, artifacts.rootLayer, artifacts.workLayer]) {
        if (path === null) continue;
        await access(path).catch(() => {
          throw new BangerError('snapshot-not-ready', `Snapshot ${snapshot.name} lost a file: ${path}`, { hint: 'delete the snapshot and take it again' });
        });
      }
      const reserved = await this.ports.reserve(id, portRequests);

      const vmDir = this.records.vmDir(vm);
      clock.enter('clone_disks', `layers over snapshot ${snapshot.name}`);
      await mkdir(vmDir, { recursive: true, mode: 0o750 });
      this.deps.vms.update(id, { vmDir, updatedAt: now() });
      const disks = await driver.cloneDisks(artifacts, vmDir, { signal });
      this.deps.vms.update(id, { disks, updatedAt: now() });

      clock.enter('restore_state', `${artifacts.memoryFile ? 'guest RAM mapped from the snapshot' : 'guest RAM loaded from the state file'}`);
      const { process, ports } = await launchPublishing(
        (portForwards) =>
          driver.restore(
            { ...this.records.launchBase(vm, image, { vmDir, ...disks }), portForwards, snapshot: artifacts },
            { signal, onSpawn: (spawned) => this.records.recordProcess(id, spawned) },
          ),
        { ports: reserved, signal, reallocate: (allocation) => this.ports.replace(id, allocation) },
      );
      this.records.recordProcess(id, process);

      clock.enter('resume', `pid ${process.pid}, ${process.accel}`);
      await driver.resume(process);

      const hostname = guestHostnameFor(vm.name);
      clock.enter('reidentify', `hostname ${hostname}, fresh entropy, clock, SSH host keys`);
      const transport = driver.agentTransport(process);
      // The same bound as a boot's wait for the agent (BANGER_VM_BOOT_TIMEOUT_SECONDS): on a host
      // busy with many restores at once, re-identifying a Debian guest takes far longer than alone.
      const reidentified = await reidentifyGuest(transport, { hostname, timeoutMs: this.deps.settings.agentTimeoutMs, resendMs: RESTORED_AGENT_RESEND_MS, signal });

      clock.enter(
        'agent_ready',
        `hostname ${reidentified.hostname}, RNG ${reidentified.rngReseeded ? 'reseeded' : 'fed (reseeds within a minute)'}, SSH host keys ${reidentified.sshHostKeys}`,
      );
      // The agent just answered; the guest kept the address it had when the snapshot was taken.
      await waitForPublishedPorts(driver, process, ports, clock, {
        signal,
        portTimeoutMs: this.deps.settings.portTimeoutMs,
        hasAddress: true,
        holdMs: RESTORED_PORT_HOLD_MS,
        listeningGuestPorts: new Set(reidentified.listening ?? []),
        services: image.services,
      });

      this.records.markRunning(id, clock, 'warm', { snapshot: snapshot.name });
      return { vm: this.records.get(id) };
    } catch (error) {
      throw await this.bootJobs.failCreate(id, error, signal);
    }
  }
}
