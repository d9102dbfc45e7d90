import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AgentTransport } from '../../guest/agent-protocol.js';
import { isProcessAlive, waitForExit } from '../../host/detached.js';
import { kvmUsable } from '../../host/kvm.js';
import { CLOCK_TICKS_PER_SECOND, readProcStat } from '../../host/proc.js';
import { killProcessGroup } from '../../host/runner.js';
import { killProcessesUsing } from '../../host/strays.js';
import {
  LaunchError,
  type Acceleration,
  type DiskOptions,
  type HypervisorDriver,
  type LaunchOptions,
  type LaunchSpec,
  type RunningVm,
  type StopOptions,
  type StopOutcome,
  type RestoreSpec,
  type VmProcess,
} from '../driver.js';
import {
  compatibilityMismatches,
  SnapshotIncompatibleError,
  type MemoryUsage,
  type SnapshotArtifacts,
  type SnapshotCompatibility,
  type SnapshotOptions,
  type SnapshotSpec,
} from '../snapshot.js';
import { unixSocketTransport } from '../unix-socket-transport.js';
import { settleQemuSnapshot } from './snapshot-recovery.js';
import { translationCacheMiB, type TranslationCacheSetting } from './translation-cache.js';
import { QEMU_MACHINE } from './boot-args.js';
import { cloneSnapshotDisks } from './disk-layers.js';
import { qemuLaunchArgs, qemuVmFiles, shellSocketOf } from './launch-args.js';
import { qemuProcessMemoryUsage } from './memory-usage.js';
import { QmpClient, QmpError, withQmp } from './qmp-client.js';
import { loadSnapshotState, restoreLaunchSpec } from './qemu-restore.js';
import { qemuEnvironment, type MallocArenaSetting } from './malloc-arenas.js';
import { takeQemuSnapshot } from './qemu-snapshot.js';
import { qemuBinaryVersion } from './qemu-version.js';
import { createQemuRootDisk, qemuRootDiskPath } from './root-disk.js';
import { startQemu, type QemuStart } from './start.js';

export interface QemuDriverOptions {
  /** Default qemu-system-x86_64 from PATH. */
  binary?: string;
  /** Overrides detection, e.g. to force TCG where KVM exists. */
  accel?: Acceleration;
  /** How long QEMU may take to answer QMP after it was spawned. Default 30 s. */
  startTimeoutMs?: number;
  /** Bound on saving a VM's state into a snapshot, and on loading it back. Default 2 min. */
  stateTimeoutMs?: number;
  /** TCG's translation cache per VM (translation-cache.ts); default auto. */
  translationCache?: TranslationCacheSetting;
  /** glibc malloc arenas per QEMU process (malloc-arenas.ts); default auto. */
  mallocArenas?: MallocArenaSetting;
}

const DEFAULT_BINARY = 'qemu-system-x86_64';
const DEFAULT_START_TIMEOUT_MS = 30_000;
const DEFAULT_STATE_TIMEOUT_MS = 120_000;
const QMP_CONNECT_MS = 3000;
// QEMU flushes its block layer on quit; on a busy host that is not instant.
const QUIT_WAIT_MS = 10_000;
const KILL_WAIT_MS = 5000;

export class QemuDriver implements HypervisorDriver {
  readonly name = 'qemu' as const;
  private readonly binary: string;
  private readonly startTimeoutMs: number;
  private readonly stateTimeoutMs: number;
  private accelDecision: Promise<Acceleration> | undefined;
  private versionLookup: Promise<string> | undefined;

  constructor(private readonly options: QemuDriverOptions = {}) {
    this.binary = options.binary ?? DEFAULT_BINARY;
    this.startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    this.stateTimeoutMs = options.stateTimeoutMs ?? DEFAULT_STATE_TIMEOUT_MS;
  }

  accel(): Promise<Acceleration> {
    const forced = this.options.accel;
    this.accelDecision ??= forced !== undefined ? Promise.resolve(forced) : kvmUsable().then((usable) => (usable ? 'kvm' : 'tcg'));
    return this.accelDecision;
  }

  async launch(spec: LaunchSpec, options: LaunchOptions = {}): Promise<RunningVm> {
    const started = Date.now();
    const vm = await startQemu(await this.startOf(spec), options);
    return { process: vm, launchMs: Date.now() - started };
  }

  /**
   * Like launch, with the snapshot's device model on the clone's own disks, sockets and
   * forwards; returns with the state loaded and the guest paused (resume lets it run).
   */
  async restore(spec: RestoreSpec, options: LaunchOptions = {}): Promise<RunningVm> {
    const started = Date.now();
    const here = await this.compatibility().catch((error: unknown) => {
      throw new LaunchError(`cannot tell which QEMU would load the snapshot: ${error instanceof Error ? error.message : String(error)}`, '', { cause: error });
    });
    const mismatches = compatibilityMismatches(spec.snapshot.compatibility, { ...here, cpus: spec.cpus, memoryMiB: spec.memoryMiB });
    if (mismatches.length > 0) throw new SnapshotIncompatibleError(mismatches);
    const start = await this.startOf(restoreLaunchSpec(spec), { incoming: true });
    const vm = await startQemu({ ...start, afterServing: (vm) => loadSnapshotState(start, vm, spec, this.stateTimeoutMs, options.signal) }, options);
    return { process: vm, launchMs: Date.now() - started };
  }

  private async startOf(spec: LaunchSpec, options: { incoming?: boolean } = {}): Promise<QemuStart> {
    const files = qemuVmFiles(spec.vmDir);
    const accel = await this.accel();
    return {
      binary: this.binary,
      args: qemuLaunchArgs(spec, accel, files, { ...options, translationCacheMiB: translationCacheMiB(this.options.translationCache ?? 'auto') }),
      vmDir: spec.vmDir,
      env: qemuEnvironment(this.options.mallocArenas ?? 'auto'),
      files,
      accel,
      forwardedPorts: spec.portForwards.map((forward) => forward.hostPort),
      startTimeoutMs: this.startTimeoutMs,
    };
  }

  async snapshot(vm: VmProcess, spec: SnapshotSpec, options: SnapshotOptions = {}): Promise<SnapshotArtifacts> {
    const artifacts = await takeQemuSnapshot(vm, spec, { ...options, binaryVersion: await this.binaryVersion(), stateTimeoutMs: this.stateTimeoutMs });
    if (spec.after === 'stop') {
      options.onStep?.('stop');
      // No grace: the guest is stopped with its state saved, and must never run on.
      await this.stop(vm, { graceMs: 0 });
    }
    return artifacts;
  }

  settleSnapshot(spec: SnapshotSpec): Promise<'went-on' | 'rolled-back'> {
    return settleQemuSnapshot(spec);
  }

  cloneDisks(snapshot: SnapshotArtifacts, vmDir: string, options: { signal?: AbortSignal } = {}): Promise<{ rootDisk: string; workDisk: string }> {
    return cloneSnapshotDisks(snapshot, vmDir, options);
  }

  async compatibility(): Promise<Pick<SnapshotCompatibility, 'hypervisor' | 'binaryVersion' | 'machine'>> {
    return { hypervisor: 'qemu', binaryVersion: await this.binaryVersion(), machine: QEMU_MACHINE };
  }

  memoryUsage(vm: VmProcess): Promise<MemoryUsage> {
    return qemuProcessMemoryUsage(vm.pid, vm.startTime);
  }

  cpuTimeMs(vm: VmProcess): number | null {
    const stat = readProcStat(vm.pid);
    if (stat?.startTime !== vm.startTime) return null;
    return (stat.cpuTicks * 1000) / CLOCK_TICKS_PER_SECOND;
  }

  private binaryVersion(): Promise<string> {
    this.versionLookup ??= qemuBinaryVersion(this.binary).catch((error: unknown) => {
      // A failed lookup (a binary installed later, a timeout) is tried again next time.
      this.versionLookup = undefined;
      throw error;
    });
    return this.versionLookup;
  }

  isRunning(vm: VmProcess): boolean {
    return isProcessAlive(vm.pid, vm.startTime);
  }

  rootDiskPath(vmDir: string): string {
    return qemuRootDiskPath(vmDir);
  }

  prepareRootDisk(imageRootfs: string, vmDir: string, options: DiskOptions = {}): Promise<string> {
    return createQemuRootDisk(imageRootfs, vmDir, options);
  }

  async kill(vm: VmProcess): Promise<void> {
    killProcessGroup(vm.pid, vm.startTime, 'SIGKILL');
    if (!(await waitForExit(vm.pid, vm.startTime, KILL_WAIT_MS))) {
      throw new Error(`QEMU process ${vm.pid} did not exit after SIGKILL`);
    }
    await this.removeRuntimeFiles(vm);
  }

  async pause(vm: VmProcess): Promise<void> {
    await withQmp(vm.controlSocket, (client) => client.execute('stop'), { timeoutMs: QMP_CONNECT_MS });
  }

  async resume(vm: VmProcess): Promise<void> {
    await withQmp(vm.controlSocket, (client) => client.execute('cont'), { timeoutMs: QMP_CONNECT_MS });
  }

  async isPaused(vm: VmProcess): Promise<boolean> {
    return !(await this.runStatus(vm)).running;
  }

  // QEMU's default werror=enospc stops the guest on a write that meets ENOSPC, status io-error; cont retries it.
  async isStoppedOnDiskError(vm: VmProcess): Promise<boolean> {
    return (await this.runStatus(vm)).status === 'io-error';
  }

  private runStatus(vm: VmProcess): Promise<{ running: boolean; status: string }> {
    return withQmp(vm.controlSocket, (client) => client.execute<{ running: boolean; status: string }>('query-status'), { timeoutMs: QMP_CONNECT_MS });
  }

  killStrays(vmDir: string): Promise<number> {
    return killProcessesUsing(vmDir, KILL_WAIT_MS);
  }

  agentTransport(vm: VmProcess): AgentTransport {
    return unixSocketTransport(vm.agentSocket);
  }

  shellTransport(vm: VmProcess): AgentTransport | null {
    const socket = shellSocketOf(vm);
    return existsSync(socket) ? unixSocketTransport(socket) : null;
  }

  /**
   * ACPI power button first (the guest flushes and powers off, if it listens),
   * then QMP quit (QEMU flushes its disks; the guest's page cache is lost), then
   * SIGKILL of the process group. Every step re-checks that pid is still the
   * recorded process, so a recycled pid is never signalled.
   */
  async stop(vm: VmProcess, options: StopOptions): Promise<StopOutcome> {
    if (!this.isRunning(vm)) {
      await this.removeRuntimeFiles(vm);
      return 'already-gone';
    }
    // The last request QEMU accepted decides what an exit means.
    let requested: 'powerdown' | 'quit' | undefined;
    let client: QmpClient | undefined;
    try {
      client = await QmpClient.connect(vm.controlSocket, { timeoutMs: QMP_CONNECT_MS });
      if (options.graceMs > 0) {
        // A paused guest cannot hear the power button: let it run so it can shut down cleanly.
        const status = await client.execute<{ running: boolean }>('query-status');
        if (!status.running) await client.execute('cont');
        await client.execute('system_powerdown');
        requested = 'powerdown';
        await waitForExit(vm.pid, vm.startTime, options.graceMs);
      }
      if (this.isRunning(vm)) {
        await client.execute('quit').catch((error: unknown) => {
          // QEMU may close the monitor before its answer to quit gets out.
          if (!(error instanceof QmpError && error.kind === 'closed')) throw error;
        });
        requested = 'quit';
        await waitForExit(vm.pid, vm.startTime, QUIT_WAIT_MS);
      }
    } catch {
      // Unreachable or unresponsive QMP: the kill below is the answer to both.
    } finally {
      client?.close();
    }

    let outcome: StopOutcome;
    if (!this.isRunning(vm)) {
      outcome = requested === 'powerdown' ? 'powered-off' : requested === 'quit' ? 'quit' : 'already-gone';
    } else {
      await this.kill(vm);
      return 'killed';
    }
    await this.removeRuntimeFiles(vm);
    return outcome;
  }

  /** Sockets left by a killed QEMU accept nothing but would still look like a VM's. */
  private async removeRuntimeFiles(vm: VmProcess): Promise<void> {
    const { pidFile } = qemuVmFiles(dirname(vm.controlSocket));
    await Promise.all([vm.controlSocket, vm.agentSocket, shellSocketOf(vm), pidFile].map((path) => rm(path, { force: true })));
  }
}
