import { existsSync } from 'node:fs';
import { readdir, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { allocatedBytes, copyFilePreferClone } from '../../host/copy.js';
import type { VmProcess } from '../driver.js';
import type { GuestMemory, SnapshotArtifacts, SnapshotCompatibility, SnapshotSpec, SnapshotStep } from '../snapshot.js';
import { QEMU_MACHINE } from './boot-args.js';
import { createNextLayers, inspectDisks, moveDisks, switchToNextLayers, type FrozenDisk } from './disk-freeze.js';
import { nextLayerPath } from './disk-layers.js';
import { checkSocketPath, qemuVmFiles, shellSocketOf } from './launch-args.js';
import { RAM_BACKEND_ID } from './memory-backend.js';
import { saveState } from './migration.js';
import { withQmp, type QmpClient } from './qmp-client.js';
import { UndoStack } from './undo-stack.js';

/**
 * A snapshot of a running QEMU VM (HypervisorDriver.snapshot): stop, save the state, freeze the
 * disks (disk-freeze.ts says why in that order), then go on above them. Everything up to the
 * switch to the new disk layers is undone on failure, and the VM resumed; after it, the VM
 * stands on the frozen layers in spec.dir and only `cont` is left.
 */

export interface QemuSnapshotOptions {
  binaryVersion: string;
  /** Bound on saving the state (and writing the file). */
  stateTimeoutMs: number;
  signal?: AbortSignal;
  onStep?: (step: SnapshotStep) => void;
}

export const SNAPSHOT_STATE_FILE = 'state';
export const SNAPSHOT_MEMORY_FILE = 'memory';

const MiB = 1024 * 1024;
const QMP_CONNECT_MS = 3000;

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function checkEmptyDir(dir: string): Promise<void> {
  const entries = await readdir(dir);
  if (entries.length > 0) throw new Error(`snapshot dir ${dir} is not empty: ${entries.slice(0, 5).join(', ')}`);
}

async function emptyDir(dir: string): Promise<void> {
  const entries = await readdir(dir).catch(() => []);
  await Promise.all(entries.map((entry) => rm(join(dir, entry), { recursive: true, force: true })));
}

async function dirAllocatedBytes(dir: string): Promise<number> {
  const entries = await readdir(dir);
  const sizes = await Promise.all(entries.map((entry) => allocatedBytes(join(dir, entry))));
  return sizes.reduce((sum, size) => sum + size, 0);
}

/** With x-ignore-shared only a shared file's RAM stays out of the state; anything else would be lost. */
async function checkSharedRam(client: QmpClient, memory: GuestMemory): Promise<void> {
  if (!memory.shared) throw new Error('a snapshot keeps guest RAM as a file only when the VM maps it shared');
  const path = `/objects/${RAM_BACKEND_ID}`;
  const facts = await Promise.all([
    client.execute<string>('qom-get', { path, property: 'mem-path' }),
    client.execute<boolean>('qom-get', { path, property: 'share' }),
  ]).catch((error: unknown) => {
    throw new Error(`the VM's RAM is not a memory file: ${messageOf(error)}`);
  });
  const [memPath, share] = facts;
  if (resolve(memPath) !== resolve(memory.file) || !share) {
    throw new Error(`the VM's RAM is ${memPath} (share=${share ? 'on' : 'off'}), not ${memory.file} shared`);
  }
}

async function vmShape(client: QmpClient): Promise<{ cpus: number; memoryMiB: number }> {
  const cpus = await client.execute<unknown[]>('query-cpus-fast');
  const memory = await client.execute<{ 'base-memory': number }>('query-memory-size-summary');
  return { cpus: cpus.length, memoryMiB: memory['base-memory'] / MiB };
}

/** The RAM file becomes the snapshot's memory: moved when the VM ends, copied (sparse) while it is paused when it goes on. */
async function freezeMemory(memory: GuestMemory, after: SnapshotSpec['after'], target: string, undo: UndoStack, signal?: AbortSignal): Promise<void> {
  if (after === 'stop') {
    await rename(memory.file, target);
    undo.push(`move ${target} back`, () => rename(target, memory.file));
  } else {
    await copyFilePreferClone(memory.file, target, { signal });
  }
}

/**
 * Takes the snapshot and, for after='resume', resumes the VM on its new layers (when it was
 * running before; a paused VM stays paused). For after='stop' the VM is left stopped with its
 * disks gone: the caller ends the process.
 */
export async function takeQemuSnapshot(vm: VmProcess, spec: SnapshotSpec, options: QemuSnapshotOptions): Promise<SnapshotArtifacts> {
  await checkEmptyDir(spec.dir);
  const step = (name: SnapshotStep): void => {
    try {
      options.onStep?.(name);
    } catch {
      // Progress reporting must not decide the snapshot's outcome.
    }
  };
  const stateFile = join(spec.dir, SNAPSHOT_STATE_FILE);
  const memoryFile = spec.memory === undefined ? null : join(spec.dir, SNAPSHOT_MEMORY_FILE);
  const { migrationSocket } = qemuVmFiles(dirname(vm.controlSocket));
  checkSocketPath(migrationSocket);

  const taken = await withQmp(
    vm.controlSocket,
    async (client) => {
      const { status } = await client.execute<{ status: string }>('query-status');
      if (status !== 'running' && status !== 'paused') throw new Error(`the VM is ${status}: only a running or paused VM can be snapshotted`);
      const wasRunning = status === 'running';
      const disks = await inspectDisks(
        client,
        [
          { device: 'root', path: spec.rootDisk, next: spec.continueOn?.rootDisk ?? nextLayerPath(spec.rootDisk) },
          { device: 'work', path: spec.workDisk, next: spec.continueOn?.workDisk ?? nextLayerPath(spec.workDisk) },
        ],
        spec.dir,
      );
      if (spec.memory !== undefined) await checkSharedRam(client, spec.memory);
      const shape = await vmShape(client);
      options.signal?.throwIfAborted();

      step('pause');
      if (wasRunning) await client.execute('stop');
      const undo = new UndoStack();
      try {
        step('save_state');
        await saveState(client, {
          socketPath: migrationSocket,
          stateFile,
          ignoreShared: spec.memory !== undefined,
          timeoutMs: options.stateTimeoutMs,
          stderrLog: vm.stderrLog,
          signal: options.signal,
        });
        step('freeze_disks');
        if (spec.memory !== undefined && memoryFile !== null) await freezeMemory(spec.memory, spec.after, memoryFile, undo, options.signal);
        await moveDisks(disks, undo);
        if (spec.after === 'resume') {
          await createNextLayers(disks, undo, options.signal);
          options.signal?.throwIfAborted();
          await switchToNextLayers(client, disks);
        }
      } catch (error) {
        const problems = (await undo.unwind()).map((what) => `could not undo: ${what}`);
        await emptyDir(spec.dir);
        if (wasRunning) {
          // cont takes the disks back (the migration had handed them over), at their own paths again.
          await client.execute('cont').catch((contError: unknown) => problems.push(`resuming the VM failed: ${messageOf(contError)}`));
        }
        throw problems.length === 0 ? error : new Error(`${messageOf(error)}; ${problems.join('; ')}`, { cause: error });
      }

      if (spec.after === 'resume' && wasRunning) {
        step('resume');
        await client.execute('cont').catch((error: unknown) => {
          throw new Error(`the snapshot in ${spec.dir} is complete, but the VM did not resume on its new disk layers (it needs those files): ${messageOf(error)}`, { cause: error });
        });
      }
      return { disks, shape };
    },
    { timeoutMs: QMP_CONNECT_MS, signal: options.signal },
  );

  const compatibility: SnapshotCompatibility = {
    hypervisor: 'qemu',
    binaryVersion: options.binaryVersion,
    machine: QEMU_MACHINE,
    ...taken.shape,
    guestShell: existsSync(shellSocketOf(vm)),
  };
  const [root, work] = taken.disks as [FrozenDisk, FrozenDisk];
  return {
    stateFile,
    memoryFile,
    rootLayer: root.frozen,
    workLayer: work.frozen,
    compatibility,
    sizeBytes: await dirAllocatedBytes(spec.dir),
  };
}
