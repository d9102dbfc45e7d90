import type { VmProcess } from '../../hypervisor/driver.js';
import type { MemoryUsage } from '../../hypervisor/snapshot.js';

/** How old a reading may be: a read of QEMU's smaps costs ~10 ms of CPU, and clients poll GET /vms/{id}. */
export const hostOverheadMaxAgeMs = 5000;
// Readings of processes that ended are dropped once there are more than this many.
const maxKept = 64;

/**
 * hostOverheadBytes of running VMs: the hypervisor's resident memory beyond guest RAM, read at
 * most once per hostOverheadMaxAgeMs per hypervisor process, and once for requests that come
 * while a read is under way. A failed read (the process just ended) is null, and kept as long.
 */
export class HostOverheadReadings {
  private readonly readings = new Map<string, { at: number; bytes: Promise<number | null> }>();

  constructor(private readonly maxAgeMs = hostOverheadMaxAgeMs) {}

  of(process: VmProcess, measure: () => Promise<MemoryUsage>): Promise<number | null> {
    const key = `${process.pid}:${process.startTime}`;
    const now = performance.now();
    const kept = this.readings.get(key);
    if (kept && now - kept.at < this.maxAgeMs) return kept.bytes;
    const bytes = measure().then(
      (usage) => Math.max(0, usage.rssBytes - usage.guestRamRssBytes),
      () => null,
    );
    this.readings.set(key, { at: now, bytes });
    if (this.readings.size > maxKept) {
      for (const [other, reading] of this.readings) if (now - reading.at >= this.maxAgeMs) this.readings.delete(other);
    }
    return bytes;
  }
}
