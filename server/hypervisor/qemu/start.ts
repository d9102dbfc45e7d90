import { setTimeout as sleep } from 'node:timers/promises';
import { isProcessAlive, spawnDetached, SpawnDetachedError, waitForExit } from '../../host/detached.js';
import { killProcessGroup } from '../../host/runner.js';
import { LaunchError, PortConflictError, type Acceleration, type LaunchOptions, type VmProcess } from '../driver.js';
import { lastLines, readLogTail } from '../log-tail.js';
import { refusedHostForwards } from './boot-args.js';
import { checkSocketPath, type QemuVmFiles } from './launch-args.js';
import { withQmp } from './qmp-client.js';

/**
 * Starting a QEMU process, shared by a cold launch and a restore: spawn detached, report the
 * identity through onSpawn before any wait, wait until QMP answers, then whatever else the
 * caller needs before the VM counts as started. Whatever fails on the way kills the process,
 * so a throw leaves nothing running.
 */

export interface QemuStart {
  binary: string;
  args: string[];
  vmDir: string;
  /** The process's environment; the daemon's when absent. */
  env?: NodeJS.ProcessEnv;
  files: QemuVmFiles;
  accel: Acceleration;
  /** Host ports of the forwards, to tell a taken port from other start failures. */
  forwardedPorts: number[];
  startTimeoutMs: number;
  /** Runs once QMP answers; a throw kills the process. */
  afterServing?: (vm: VmProcess) => Promise<void>;
}

const START_POLL_MS = 50;
const QMP_PROBE_MS = 3000;
const KILL_WAIT_MS = 5000;
const STDERR_TAIL_BYTES = 4096;

export async function startQemu(start: QemuStart, options: LaunchOptions = {}): Promise<VmProcess> {
  const { files } = start;
  checkSocketPath(files.qmpSocket);
  checkSocketPath(files.agentSocket);
  checkSocketPath(files.shellSocket);
  checkSocketPath(files.migrationSocket);

  let spawned;
  try {
    spawned = await spawnDetached(start.binary, start.args, { cwd: start.vmDir, env: start.env, stdoutPath: files.stderrLog, stderrPath: files.stderrLog });
  } catch (error) {
    if (error instanceof SpawnDetachedError) {
      const hint = error.reason === 'not-found' ? ' (install qemu-system-x86)' : '';
      throw new LaunchError(`${error.message}${hint}`, await readLogTail(files.stderrLog, STDERR_TAIL_BYTES), { cause: error });
    }
    throw error;
  }
  const vm: VmProcess = {
    hypervisor: 'qemu',
    pid: spawned.pid,
    startTime: spawned.startTime,
    accel: start.accel,
    controlSocket: files.qmpSocket,
    agentSocket: files.agentSocket,
    consoleLog: files.consoleLog,
    stderrLog: files.stderrLog,
  };

  try {
    options.onSpawn?.({ ...vm });
    await waitUntilServing(start, vm, options.signal);
    await start.afterServing?.(vm);
  } catch (error) {
    killProcessGroup(vm.pid, vm.startTime, 'SIGKILL');
    await waitForExit(vm.pid, vm.startTime, KILL_WAIT_MS);
    throw error;
  }
  return vm;
}

/** QEMU's reason for exiting, as a LaunchError (a PortConflictError when a forward's port was taken). */
export async function exitedError(start: Pick<QemuStart, 'binary' | 'forwardedPorts'>, vm: VmProcess, during: string): Promise<LaunchError> {
  const stderrTail = await readLogTail(vm.stderrLog, STDERR_TAIL_BYTES);
  // A failed state load takes two lines: which section, then why the load stopped.
  const why = lastLines(stderrTail, during === 'start' ? 1 : 2).trim().replace(/\n/g, '; ');
  const message = `${start.binary} exited during ${during}${why ? `: ${why}` : ''}`;
  const taken = refusedHostForwards(stderrTail, start.forwardedPorts);
  if (taken.length > 0) return new PortConflictError(message, stderrTail, taken);
  return new LaunchError(message, stderrTail);
}

/**
 * QMP answers only once QEMU has created every device and opened every disk, so an
 * answer means the command line was accepted; an exit before it means it was not,
 * and the log says why.
 */
async function waitUntilServing(start: QemuStart, vm: VmProcess, signal: AbortSignal | undefined): Promise<void> {
  const deadline = Date.now() + start.startTimeoutMs;
  let lastProblem = 'no QMP socket yet';
  for (;;) {
    if (signal?.aborted) throw new LaunchError('launch was cancelled', '', { cause: signal.reason });
    if (!isProcessAlive(vm.pid, vm.startTime)) throw await exitedError(start, vm, 'start');
    if (Date.now() > deadline) {
      throw new LaunchError(`${start.binary} did not answer QMP within ${start.startTimeoutMs} ms (${lastProblem})`, await readLogTail(vm.stderrLog, STDERR_TAIL_BYTES));
    }
    try {
      await withQmp(vm.controlSocket, (client) => client.execute('query-status'), { timeoutMs: QMP_PROBE_MS, signal });
      return;
    } catch (error) {
      lastProblem = error instanceof Error ? error.message : String(error);
    }
    await sleep(START_POLL_MS);
  }
}
