import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { VmRow } from '../../db/repositories/vms.js';
import { removeTree } from '../../host/remove-tree.js';
import { classifyBootFailure, describeBootFailure } from '../../hypervisor/boot-failure.js';
import { lastLines, readLogTail } from '../../hypervisor/log-tail.js';
import type { Job } from '../jobs/types.js';
import { now } from '../ids.js';
import type { StateReason, VmDeps, VmRecords } from './vm-records.js';
import type { VmTeardown } from './vm-teardown.js';
import type { SnapshotStore } from '../snapshots/snapshot-store.js';
import { continuedDisks } from './vm-snapshot-job.js';
import { DiskStallWatch } from './disk-stall-watch.js';

export interface ReconcilerHooks {
  /** Whether a job is working on the VM: the reconciler leaves such VMs to it. */
  isBusy(vmId: string): boolean;
  /** Starts the delete job of a VM whose TTL expired. */
  deleteExpired(vmId: string, reason: StateReason): Job;
}

/**
 * Makes the records match the host: at daemon start (re-adopt what still runs, settle what a
 * crash cut short, remove dirs no row owns) and then every few seconds (hypervisors that died,
 * VMs a vanished job left half-way, expired TTLs). Never on a request's path.
 */
export class VmReconciler {
  private monitorTimer: NodeJS.Timeout | undefined;
  private monitorRun: Promise<void> | undefined;
  private readonly diskStalls: DiskStallWatch;

  constructor(
    private readonly deps: VmDeps,
    private readonly records: VmRecords,
    private readonly teardown: VmTeardown,
    private readonly store: SnapshotStore,
    private readonly hooks: ReconcilerHooks,
  ) {
    this.diskStalls = new DiskStallWatch(deps, records, hooks.isBusy);
  }

  /** At daemon start, before any job. */
  async recover(): Promise<void> {
    await this.recoverSnapshots();
    for (const vm of this.deps.vms.all()) {
      try {
        await this.recoverOne(vm);
      } catch (error) {
        // One VM the daemon cannot settle (say, its hypervisor is gone from this host) must not keep the others down.
        this.deps.logger.error({ err: error, vmId: vm.id, name: vm.name }, 'could not recover a VM');
      }
    }
    await this.removeOrphans();
  }

  private async recoverOne(vm: VmRow): Promise<void> {
    const { vms, logger } = this.deps;
    const alive = vm.process !== null && this.records.driverOf(vm).isRunning(vm.process);
    switch (vm.state) {
      case 'running':
      case 'paused':
        if (alive && vm.process) {
          // A pause or resume the crash cut short may have reached the hypervisor: believe the hypervisor.
          const paused = await this.records.driverOf(vm).isPaused(vm.process);
          const state = paused ? 'paused' : 'running';
          if (state !== vm.state) this.records.setState(vm.id, state, paused ? { code: 'pause_requested', message: 'found paused after a daemon restart' } : null);
          logger.info({ vmId: vm.id, name: vm.name, pid: vm.process.pid, state }, 're-adopted a running VM');
        } else {
          const message = await this.deathMessage(vm, 'while the daemon was not running');
          await this.teardown.stopProcess(vm.id, 0).catch(() => undefined);
          this.records.setState(vm.id, 'stopped', { code: 'hypervisor_exited', message }, { process: null });
          logger.warn({ vmId: vm.id, name: vm.name }, 'a VM died while the daemon was down');
        }
        break;
      case 'creating':
      case 'starting':
      case 'stopping':
      case 'deleting':
        await this.settleUnfinished(vm, 'the daemon stopped');
        break;
      default:
        // stopped or failed: nothing may run for them.
        if (alive) await this.teardown.stopProcess(vm.id, 0).catch(() => undefined);
        if (vm.process) vms.update(vm.id, { process: null });
    }
  }

  /**
   * Snapshots whose job a crash cut short. Their VM may be half way: paused with its disks moved,
   * or already going on above the frozen layers. It is stopped (its state is in doubt), then goes
   * on from its new layers when they exist (the snapshot stays, failed, under it), or gets its
   * files back (the snapshot goes). Snapshot dirs no row owns are removed.
   */
  private async recoverSnapshots(): Promise<void> {
    const { vms, logger } = this.deps;
    for (const snapshot of this.store.repository.all().filter((row) => row.state === 'creating')) {
      try {
        const vm = snapshot.sourceVmId === null ? undefined : vms.get(snapshot.sourceVmId);
        if (!vm) {
          await this.store.discard(snapshot.id);
          continue;
        }
        const driver = this.records.driverOf(vm);
        const resumedOnLayers = vm.process !== null && driver.isRunning(vm.process) && !(await driver.isPaused(vm.process).catch(() => true));
        const continueOn = continuedDisks(this.records.vmDir(vm), snapshot.id);
        if (!resumedOnLayers) await this.teardown.stopEverything(vm);
        const outcome = resumedOnLayers
          ? 'went-on'
          : await driver.settleSnapshot({
              dir: snapshot.dir,
              ...this.records.disksOf(vm),
              after: 'resume',
              continueOn,
              memory: vm.memoryFile ? { file: vm.memoryFile, shared: true } : undefined,
            });
        const stopped = resumedOnLayers ? {} : { process: null };
        if (outcome === 'went-on') {
          vms.update(vm.id, { ...stopped, disks: continueOn, baseSnapshotId: snapshot.id, updatedAt: now() });
          this.store.repository.update(snapshot.id, {
            state: 'failed',
            stateMessage: `the daemon stopped while it was being taken; VM ${vm.name} went on above its disk layers, so its files stay until that VM is deleted`,
          });
        } else {
          if (!resumedOnLayers) vms.update(vm.id, { ...stopped, updatedAt: now() });
          await this.store.discard(snapshot.id);
        }
        if (!resumedOnLayers && (vm.state === 'running' || vm.state === 'paused')) {
          this.records.setState(vm.id, 'stopped', { code: 'interrupted', message: `the daemon stopped during snapshot ${snapshot.name}; the VM was stopped, its disks kept` });
        }
        logger.warn({ snapshotId: snapshot.id, vmId: vm.id, outcome }, 'settled a snapshot a crash cut short');
      } catch (error) {
        logger.error({ err: error, snapshotId: snapshot.id }, 'could not settle an interrupted snapshot');
      }
    }
    const known = new Set(this.store.repository.all().map((row) => row.dir));
    for (const entry of existsSync(this.store.root) ? readdirSync(this.store.root) : []) {
      const path = join(this.store.root, entry);
      if (known.has(path)) continue;
      await removeTree(path);
      logger.warn({ path }, 'removed a snapshot dir that no snapshot owns');
    }
  }

  /** Starts the liveness and TTL monitor; it runs once at once (expired TTLs after a restart). */
  startMonitor(): void {
    if (this.monitorTimer) return;
    const tick = () => {
      this.monitorRun ??= this.monitorOnce()
        .catch((error: unknown) => this.deps.logger.error({ err: error }, 'vm monitor failed'))
        .finally(() => (this.monitorRun = undefined));
    };
    this.monitorTimer = setInterval(tick, this.deps.settings.monitorIntervalMs);
    this.monitorTimer.unref();
    tick();
  }

  async stopMonitor(): Promise<void> {
    clearInterval(this.monitorTimer);
    this.monitorTimer = undefined;
    await this.monitorRun;
    await this.records.services.settle();
  }

  /** One look: dead hypervisors, guests a full disk stopped, unfinished transitions, expired TTLs, failed VMs kept long enough; and the services' watch is started. */
  async monitorOnce(): Promise<void> {
    const { vms, logger } = this.deps;
    for (const vm of vms.withStates(['running', 'paused'])) {
      if (!vm.process || this.records.driverOf(vm).isRunning(vm.process) || this.hooks.isBusy(vm.id)) continue;
      // Re-read: a job may have moved it on since the list was made.
      const current = vms.get(vm.id);
      if ((current?.state !== 'running' && current?.state !== 'paused') || !current.process || this.records.driverOf(current).isRunning(current.process)) continue;
      const message = await this.deathMessage(current, 'while the VM was running');
      await this.records.driverOf(current).stop(current.process, { graceMs: 0 }).catch(() => undefined);
      this.records.setState(vm.id, 'stopped', { code: 'hypervisor_exited', message }, { process: null });
      logger.warn({ vmId: vm.id, name: vm.name, pid: current.process.pid }, 'vm hypervisor exited; marked stopped');
    }
    await this.diskStalls.look();
    this.records.services.poll((vmId) => this.hooks.isBusy(vmId));
    for (const vm of vms.withStates(['creating', 'starting', 'stopping', 'deleting'])) {
      if (this.hooks.isBusy(vm.id)) continue;
      const current = vms.get(vm.id);
      if (!current || current.state !== vm.state || this.hooks.isBusy(vm.id)) continue;
      await this.settleUnfinished(current, 'its job ended');
    }
    for (const vm of vms.expiredAt(now())) {
      if (vm.state === 'deleting' || vm.state === 'creating' || vm.state === 'starting' || vm.state === 'stopping') continue;
      if (this.hooks.isBusy(vm.id)) continue;
      try {
        const job = this.hooks.deleteExpired(vm.id, { code: 'ttl_expired', message: `its TTL of ${vm.ttlSeconds} s expired at ${vm.expiresAt}` });
        logger.info({ vmId: vm.id, name: vm.name, jobId: job.id }, 'vm TTL expired; deleting it');
      } catch (error) {
        logger.warn({ err: error, vmId: vm.id }, 'could not start the TTL delete of a VM');
      }
    }
    this.expireFailed();
  }

  /** Failed creates' VMs kept longer than BANGER_VM_FAILED_TTL_SECONDS (0: kept until deleted by hand) go, with their kept console logs. */
  private expireFailed(): void {
    const ttlSeconds = this.deps.settings.failedTtlSeconds;
    if (ttlSeconds <= 0) return;
    const before = Date.now() - ttlSeconds * 1000;
    for (const vm of this.deps.vms.withStates(['failed'])) {
      const failedAt = Date.parse(vm.stateChangedAt ?? vm.updatedAt);
      if (vm.process !== null || !(failedAt <= before) || this.hooks.isBusy(vm.id)) continue;
      this.records.removeFailed(vm, `failed at ${vm.stateChangedAt ?? vm.updatedAt}, kept ${ttlSeconds} s (BANGER_VM_FAILED_TTL_SECONDS)`);
    }
  }

  /**
   * A VM left in a passing state by a job that is gone (a daemon restart, or a queued job that was
   * cancelled before it ran): a create is undone, a start or stop ends stopped, a delete is finished.
   */
  private async settleUnfinished(vm: VmRow, cause: string): Promise<void> {
    const { logger } = this.deps;
    const lastJob = this.deps.jobRecords.list({ targetType: 'vm', targetId: vm.id }, 1)[0];
    const code = lastJob?.status === 'cancelled' ? 'cancelled' : 'interrupted';
    const why = code === 'cancelled' ? `its job ${lastJob?.id} was cancelled` : cause;
    switch (vm.state) {
      case 'creating':
        await this.teardown.teardown(vm, { preserveConsole: true });
        this.records.setState(vm.id, 'failed', { code, message: `${why} while this VM was being created; its process and files were removed` }, {
          process: null,
          vmDir: null,
          consoleLog: this.records.preservedConsoleIfAny(vm.id),
        });
        logger.warn({ vmId: vm.id, name: vm.name, code }, 'an unfinished create was cleaned up');
        break;
      case 'starting':
      case 'stopping': {
        await this.teardown.stopEverything(vm).catch(() => undefined);
        const what = vm.state === 'starting' ? 'started' : 'stopped';
        this.records.setState(vm.id, 'stopped', { code, message: `${why} while this VM was being ${what}` }, { process: null });
        logger.warn({ vmId: vm.id, name: vm.name, code }, `an unfinished ${what === 'started' ? 'start' : 'stop'} was settled`);
        break;
      }
      case 'deleting':
        await this.teardown.destroy(vm.id).catch((error: unknown) => logger.error({ err: error, vmId: vm.id }, 'could not finish an unfinished delete'));
        break;
    }
  }

  /** VM dirs and kept console logs that no row owns: left by a crash between a delete's steps. */
  private async removeOrphans(): Promise<void> {
    const { vmsDir, vms, logger, hypervisors } = this.deps;
    if (!existsSync(vmsDir)) return;
    const known = new Set(vms.all().map((vm) => vm.id));
    for (const entry of readdirSync(vmsDir)) {
      const id = entry.replace(/\.console\.log$/, '');
      if (known.has(id)) continue;
      const path = join(vmsDir, entry);
      // No row says which driver made it: every driver sweeps for its own leftovers.
      let killed = 0;
      for (const driver of hypervisors.all()) killed += await driver.killStrays(path);
      await removeTree(path);
      logger.warn({ path, killed }, 'removed a VM dir that no VM owns');
    }
  }

  /** Why a hypervisor that nobody stopped is gone, as far as its logs tell. */
  private async deathMessage(vm: VmRow, when: string): Promise<string> {
    const base = `the hypervisor process (pid ${vm.process?.pid ?? '?'}) exited ${when}`;
    if (!vm.process) return base;
    const evidence = {
      consoleTail: await readLogTail(vm.process.consoleLog).catch(() => ''),
      stderrTail: await readLogTail(vm.process.stderrLog, 4096).catch(() => ''),
      exited: true,
    };
    if (classifyBootFailure(evidence) === 'kernel_panic') return `${base}: ${describeBootFailure('kernel_panic', evidence)}`;
    const said = lastLines(evidence.stderrTail, 1).trim();
    if (said !== '') return `${base}: ${said}`;
    if (/reboot: (Power down|Restarting system)|System halted/.test(lastLines(evidence.consoleTail, 5))) return `${base}: the guest shut itself down`;
    return `${base} without a message (killed, or crashed)`;
  }
}
