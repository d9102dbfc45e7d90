import { rm } from 'node:fs/promises';
import { waitForExit } from '../../host/detached.js';
import { LaunchError, type LaunchSpec, type VmProcess } from '../driver.js';
import { readLogTail } from '../log-tail.js';
import type { RestoreSpec } from '../driver.js';
import { loadState } from './migration.js';
import { withQmp } from './qmp-client.js';
import { exitedError, type QemuStart } from './start.js';

/**
 * A VM restored from a snapshot (HypervisorDriver.restore): QEMU started with the snapshot's
 * device model but the clone's own disks, sockets and port forwards (host forwards are netdev
 * configuration, not migrated state), waiting for the state; then the state is streamed in. The
 * guest stays paused until the caller resumes it.
 */

const QMP_CONNECT_MS = 3000;
// A QMP connection that QEMU closed mid-load usually means it is exiting with its reason.
const EXIT_AFTER_CLOSE_MS = 2000;

/**
 * The launch the snapshot was taken from, on the clone's disks: with a memory file, RAM maps it
 * private (share=off), so clones share its pages until they write and never write to it.
 */
export function restoreLaunchSpec(spec: RestoreSpec): LaunchSpec {
  const { snapshot, ...rest } = spec;
  const launch = { ...rest, guestShell: snapshot.compatibility.guestShell === true };
  return snapshot.memoryFile === null ? launch : { ...launch, memory: { file: snapshot.memoryFile, shared: false } };
}

/** Loads the snapshot's state into a QEMU started with `-incoming defer -S`; the guest stays paused. */
export async function loadSnapshotState(start: QemuStart, vm: VmProcess, spec: RestoreSpec, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  try {
    await withQmp(
      vm.controlSocket,
      (client) =>
        loadState(client, {
          socketPath: start.files.migrationSocket,
          stateFile: spec.snapshot.stateFile,
          // The destination sets it too: both sides must agree on which RAM the stream leaves out.
          ignoreShared: spec.snapshot.memoryFile !== null,
          timeoutMs,
          stderrLog: vm.stderrLog,
          signal,
        }),
      { timeoutMs: QMP_CONNECT_MS, signal },
    );
    // QEMU leaves its listening socket behind; it would look like a way into this VM.
    await rm(start.files.migrationSocket, { force: true });
  } catch (error) {
    if (await waitForExit(vm.pid, vm.startTime, EXIT_AFTER_CLOSE_MS)) throw await exitedError(start, vm, 'restore');
    const message = error instanceof Error ? error.message : String(error);
    throw new LaunchError(`restoring the snapshot failed: ${message}`, await readLogTail(vm.stderrLog, 4096), { cause: error });
  }
}
