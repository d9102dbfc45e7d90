import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AgentTransport } from '../../guest/agent-protocol.js';
import { isProcessAlive, spawnDetached, SpawnDetachedError, waitForExit } from '../../host/detached.js';
import { kvmUsable } from '../../host/kvm.js';
import { killProcessGroup } from '../../host/runner.js';
import { killProcessesUsing } from '../../host/strays.js';
import {
  LaunchError,
  PortConflictError,
  type Acceleration,
  type DiskOptions,
  type HypervisorDriver,
  type LaunchOptions,
  type LaunchSpec,
  type RunningVm,
  type StopOptions,
  type StopOutcome,
  type VmProcess,
} from '../driver.js';
import { lastLines, readLogTail } from '../log-tail.js';
import { unixSocketTransport } from '../unix-socket-transport.js';
import { refusedHostForwards } from './boot-args.js';
import { checkSocketPath, qemuLaunchArgs, qemuVmFiles } from './launch-args.js';
import { QmpClient, QmpError, withQmp } from './qmp-client.js';
import { createQemuRootDisk, qemuRootDiskPath } from './root-disk.js';

export interface QemuDriverOptions {
  /** Default qemu-system-x86_64 from PATH. */
  binary?: string;
  /** Overrides detection, e.g. to force TCG where KVM exists. */
  accel?: Acceleration;
  /** How long QEMU may take to answer QMP after it was spawned. Default 30 s. */
  startTimeoutMs?: number;
}

const DEFAULT_BINARY = 'qemu-system-x86_64';
const DEFAULT_START_TIMEOUT_MS = 30_000;
const START_POLL_MS = 50;
const QMP_CONNECT_MS = 3000;
// QEMU flushes its block layer on quit; on a busy host that is not instant.
const QUIT_WAIT_MS = 10_000;
const KILL_WAIT_MS = 5000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class QemuDriver implements HypervisorDriver {
  readonly name = 'qemu' as const;
  private readonly binary: string;
  private readonly startTimeoutMs: number;
  private accelDecision: Promise<Acceleration> | undefined;

  constructor(private readonly options: QemuDriverOptions = {}) {
    this.binary = options.binary ?? DEFAULT_BINARY;
    this.startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  }

  accel(): Promise<Acceleration> {
    const forced = this.options.accel;
    this.accelDecision ??= forced !== undefined ? Promise.resolve(forced) : kvmUsable().then((usable) => (usable ? 'kvm' : 'tcg'));
    return this.accelDecision;
  }

  async launch(spec: LaunchSpec, options: LaunchOptions = {}): Promise<RunningVm> {
    const started = Date.now();
    const files = qemuVmFiles(spec.vmDir);
    checkSocketPath(files.qmpSocket);
    checkSocketPath(files.agentSocket);
    const accel = await this.accel();
    const args = qemuLaunchArgs(spec, accel, files);

    let spawned;
    try {
      spawned = await spawnDetached(this.binary, args, { cwd: spec.vmDir, stdoutPath: files.stderrLog, stderrPath: files.stderrLog });
    } catch (error) {
      if (error instanceof SpawnDetachedError) {
        const hint = error.reason === 'not-found' ? ' (install qemu-system-x86)' : '';
        throw new LaunchError(`${error.message}${hint}`, await readLogTail(files.stderrLog, 4096), { cause: error });
      }
      throw error;
    }
    const vm: VmProcess = {
      hypervisor: 'qemu',
      pid: spawned.pid,
      startTime: spawned.startTime,
      accel,
      controlSocket: files.qmpSocket,
      agentSocket: files.agentSocket,
      consoleLog: files.consoleLog,
      stderrLog: files.stderrLog,
    };

    try {
      options.onSpawn?.({ ...vm });
      await this.waitUntilServing(vm, spec.portForwards.map((forward) => forward.hostPort), options.signal);
    } catch (error) {
      // A launch that throws must leave nothing running for the caller to find.
      killProcessGroup(vm.pid, vm.startTime, 'SIGKILL');
      await waitForExit(vm.pid, vm.startTime, KILL_WAIT_MS);
      throw error;
    }
    return { process: vm, launchMs: Date.now() - started };
  }

  /**
   * QMP answers only once QEMU has created every device and opened every disk,
   * so an answer means the command line was accepted; an exit before it means
   * it was not, and the log says why.
   */
  private async waitUntilServing(vm: VmProcess, forwardedPorts: number[], signal: AbortSignal | undefined): Promise<void> {
    const deadline = Date.now() + this.startTimeoutMs;
    let lastProblem = 'no QMP socket yet';
    for (;;) {
      if (signal?.aborted) throw new LaunchError('launch was cancelled', '', { cause: signal.reason });
      if (!isProcessAlive(vm.pid, vm.startTime)) {
        const stderrTail = await readLogTail(vm.stderrLog, 4096);
        const why = lastLines(stderrTail, 1).trim();
        const message = `${this.binary} exited during start${why ? `: ${why}` : ''}`;
        const taken = refusedHostForwards(stderrTail, forwardedPorts);
        if (taken.length > 0) throw new PortConflictError(message, stderrTail, taken);
        throw new LaunchError(message, stderrTail);
      }
      if (Date.now() > deadline) {
        throw new LaunchError(`${this.binary} did not answer QMP within ${this.startTimeoutMs} ms (${lastProblem})`, await readLogTail(vm.stderrLog, 4096));
      }
      try {
        await withQmp(vm.controlSocket, (client) => client.execute('query-status'), { timeoutMs: QMP_CONNECT_MS, signal });
        return;
      } catch (error) {
        lastProblem = error instanceof Error ? error.message : String(error);
      }
      await sleep(START_POLL_MS);
    }
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

  killStrays(vmDir: string): Promise<number> {
    return killProcessesUsing(vmDir, KILL_WAIT_MS);
  }

  agentTransport(vm: VmProcess): AgentTransport {
    return unixSocketTransport(vm.agentSocket);
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
    await Promise.all([vm.controlSocket, vm.agentSocket, pidFile].map((path) => rm(path, { force: true })));
  }
}
