import { setTimeout as sleep } from 'node:timers/promises';
import type { HypervisorDriver, VmProcess } from '../../hypervisor/driver.js';

export interface SettleOptions {
  /** Length of one measurement. */
  windowMs?: number;
  /** A window counts as quiet when the VM's process used at most this share of one CPU. */
  quietShare?: number;
  /** How many quiet windows in a row make the guest settled. */
  quietWindows?: number;
  /** Give up waiting after this long; the caller goes on with a busy guest. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface SettleResult {
  settled: boolean;
  waitedMs: number;
  /** The process's share of one CPU in the last window, 0.05 for 5 %. */
  lastShare: number;
}

/**
 * Waits until a booted guest stops working: its ports answer well before a Debian guest has
 * finished starting units (another 10 s under emulation). A snapshot taken earlier hands that
 * unfinished work to every clone, where it competes with re-identifying the guest, so the warm
 * job snapshots only once the hypervisor process has been idle for a few windows in a row.
 */
export async function waitForQuietGuest(driver: HypervisorDriver, vm: VmProcess, options: SettleOptions = {}): Promise<SettleResult> {
  const windowMs = options.windowMs ?? 1000;
  const quietShare = options.quietShare ?? 0.1;
  const needed = options.quietWindows ?? 2;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const started = Date.now();
  let quiet = 0;
  let lastShare = 1;
  let before = driver.cpuTimeMs(vm);
  let beforeAt = Date.now();
  while (before !== null) {
    // Rejects with the signal's reason, as the job's other waits do, not a generic AbortError.
    await sleep(windowMs, undefined, { signal: options.signal }).catch((error: unknown) => {
      throw options.signal?.aborted ? options.signal.reason : error;
    });
    const after = driver.cpuTimeMs(vm);
    const afterAt = Date.now();
    if (after === null) break;
    lastShare = (after - before) / Math.max(1, afterAt - beforeAt);
    quiet = lastShare <= quietShare ? quiet + 1 : 0;
    if (quiet >= needed) return { settled: true, waitedMs: afterAt - started, lastShare };
    if (afterAt - started >= timeoutMs) break;
    [before, beforeAt] = [after, afterAt];
  }
  return { settled: false, waitedMs: Date.now() - started, lastShare };
}
