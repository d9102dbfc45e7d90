import { readFile, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { lastLines } from '../log-tail.js';
import type { QmpClient } from './qmp-client.js';
import { receiveState, sendState } from './state-stream.js';

/**
 * Saving and loading a VM's state with QMP migration, to and from a file (state-stream.ts).
 * With x-ignore-shared, RAM mapped from a shared file is left out of the stream: the file
 * itself is the memory, and only device state is written.
 */

export class MigrationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MigrationError';
  }
}

export interface StateTransfer {
  socketPath: string;
  stateFile: string;
  /** Leave RAM that is mapped from a shared file out of the stream. */
  ignoreShared: boolean;
  timeoutMs: number;
  /** QEMU's stderr: a failed migration is not always described in query-migrate. */
  stderrLog: string;
  signal?: AbortSignal;
}

interface MigrationInfo {
  status?: string;
  'error-desc'?: string;
}

const POLL_MS = 20;
const CANCEL_WAIT_MS = 5000;
// QEMU 7.2 throttles migration to 128 MiB/s by default, which made a 256 MiB guest's save take
// 0.8 s instead of 0.25 s here; a local file needs no throttle.
const MAX_BANDWIDTH_BYTES_PER_SECOND = 100 * 1024 ** 3;
const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

async function setIgnoreShared(client: QmpClient, on: boolean): Promise<void> {
  // Capabilities outlive a migration in the same process, so every transfer sets its own.
  await client.execute('migrate-set-capabilities', { capabilities: [{ capability: 'x-ignore-shared', state: on }] });
}

async function logSize(path: string): Promise<number> {
  return stat(path).then((info) => info.size, () => 0);
}

/**
 * QEMU's own words for a failed migration: error-desc, or else what it wrote to stderr since
 * the migration began (7.2 sets no error-desc when inactivating the disks fails).
 */
async function failureReason(info: MigrationInfo, stderrLog: string, stderrOffset: number): Promise<string> {
  const desc = info['error-desc']?.trim();
  if (desc) return desc;
  const written = (await readFile(stderrLog).catch(() => Buffer.alloc(0))).subarray(stderrOffset).toString('utf8');
  return lastLines(written, 1).trim() || 'QEMU gave no reason';
}

async function cancel(client: QmpClient): Promise<void> {
  await client.execute('migrate_cancel').catch(() => undefined);
  const deadline = Date.now() + CANCEL_WAIT_MS;
  while (Date.now() < deadline) {
    const info = await client.execute<MigrationInfo>('query-migrate').catch(() => ({ status: 'unknown' }));
    if (info.status === undefined || TERMINAL.has(info.status) || info.status === 'unknown') return;
    await sleep(POLL_MS);
  }
}

function withDeadline<T>(promise: Promise<T>, deadline: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new MigrationError(`${what} did not finish in time`)), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/**
 * Writes the state of a stopped VM into transfer.stateFile (which must not exist) and returns
 * its size. On failure the file may be partly written; the VM stays stopped, for the caller to
 * clean up and resume.
 */
export async function saveState(client: QmpClient, transfer: StateTransfer): Promise<number> {
  const deadline = Date.now() + transfer.timeoutMs;
  await setIgnoreShared(client, transfer.ignoreShared);
  await client.execute('migrate-set-parameters', { 'max-bandwidth': MAX_BANDWIDTH_BYTES_PER_SECOND });
  const stderrOffset = await logSize(transfer.stderrLog);
  const receiver = await receiveState(transfer.socketPath, transfer.stateFile);
  try {
    await client.execute('migrate', { uri: `unix:${transfer.socketPath}` });
    for (;;) {
      const info = await client.execute<MigrationInfo>('query-migrate');
      if (info.status === 'completed') break;
      if (info.status === 'failed' || info.status === 'cancelled') {
        throw new MigrationError(`saving the VM state ${info.status}: ${await failureReason(info, transfer.stderrLog, stderrOffset)}`);
      }
      if (transfer.signal?.aborted) {
        await cancel(client);
        throw new MigrationError('saving the VM state was cancelled', { cause: transfer.signal.reason });
      }
      if (Date.now() > deadline) {
        await cancel(client);
        throw new MigrationError(`saving the VM state did not complete within ${transfer.timeoutMs} ms (last status: ${info.status ?? 'none'})`);
      }
      await sleep(POLL_MS);
    }
    return await withDeadline(receiver.done, deadline, 'writing the state file');
  } catch (error) {
    receiver.close();
    throw error;
  }
}

/**
 * Loads transfer.stateFile into a QEMU started with `-incoming defer -S`, and returns once the
 * state is in and the VM is paused. QEMU exits when the state does not load (its stderr says
 * why); that shows here as a closed QMP connection, for the caller to explain.
 */
export async function loadState(client: QmpClient, transfer: StateTransfer): Promise<void> {
  const deadline = Date.now() + transfer.timeoutMs;
  await setIgnoreShared(client, transfer.ignoreShared);
  await client.execute('migrate-incoming', { uri: `unix:${transfer.socketPath}` });
  // QEMU's verdict matters more than the stream's: a refused state ends both.
  let streamError: unknown;
  const streaming = sendState(transfer.socketPath, transfer.stateFile).catch((error: unknown) => {
    streamError = error;
  });
  for (;;) {
    const { status } = await client.execute<{ status: string }>('query-status');
    if (status !== 'inmigrate') {
      if (status !== 'paused') throw new MigrationError(`after loading the state the VM is ${status}, not paused`);
      break;
    }
    if (transfer.signal?.aborted) throw new MigrationError('loading the VM state was cancelled', { cause: transfer.signal.reason });
    if (Date.now() > deadline) throw new MigrationError(`loading the VM state did not complete within ${transfer.timeoutMs} ms`);
    await sleep(POLL_MS);
  }
  await withDeadline(streaming, deadline, 'streaming the state file');
  const info = await client.execute<MigrationInfo>('query-migrate');
  if (info.status !== 'completed') {
    const why = info['error-desc'] ?? (streamError instanceof Error ? streamError.message : 'no reason given');
    throw new MigrationError(`loading the VM state ended as ${info.status ?? 'unknown'}: ${why}`);
  }
}
