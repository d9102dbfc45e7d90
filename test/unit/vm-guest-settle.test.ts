import t from 'tap';
import { CLOCK_TICKS_PER_SECOND, readProcStat } from '../../server/host/proc.js';
import type { HypervisorDriver, VmProcess } from '../../server/hypervisor/driver.js';
import { waitForQuietGuest } from '../../server/services/vms/guest-settle.js';

const vm = { pid: 1, startTime: '1' } as VmProcess;

/** cpuTimeMs from a script of CPU shares, one per window of windowMs; null once it runs out when gone is set. */
function cpuDriver(shares: number[], windowMs: number, gone = false): Pick<HypervisorDriver, 'cpuTimeMs'> {
  let used = 0;
  let reads = 0;
  return {
    cpuTimeMs: () => {
      if (reads > 0) {
        const share = shares[reads - 1];
        if (share === undefined && gone) return null;
        used += (share ?? 0) * windowMs;
      }
      reads++;
      return used;
    },
  };
}

t.test('settles after enough quiet windows in a row, and a busy one starts the count again', async (t) => {
  const driver = cpuDriver([0.9, 0.05, 0.6, 0.02, 0.03, 0.9], 20);
  const result = await waitForQuietGuest(driver as HypervisorDriver, vm, { windowMs: 20, quietShare: 0.1, quietWindows: 2 });
  t.equal(result.settled, true);
  t.ok(result.lastShare <= 0.1, `last share ${result.lastShare}`);
  t.ok(result.waitedMs >= 5 * 20 - 10, `five windows: ${result.waitedMs} ms`);
});

t.test('gives up busy at the timeout, and when the process is gone', async (t) => {
  const busy = await waitForQuietGuest(cpuDriver(Array(100).fill(1), 20) as HypervisorDriver, vm, { windowMs: 20, timeoutMs: 100 });
  t.equal(busy.settled, false);
  t.ok(busy.waitedMs >= 100 && busy.waitedMs < 5000, `${busy.waitedMs} ms`);
  const gone = await waitForQuietGuest(cpuDriver([0.9], 20, true) as HypervisorDriver, vm, { windowMs: 20 });
  t.equal(gone.settled, false);
});

t.test('cancelled by its signal', async (t) => {
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error('stop')), 50);
  await t.rejects(waitForQuietGuest(cpuDriver(Array(100).fill(1), 20) as HypervisorDriver, vm, { windowMs: 20, signal: controller.signal }), /stop/);
});

t.test('a process\'s CPU time from /proc/PID/stat grows as it works', async (t) => {
  const before = readProcStat(process.pid)?.cpuTicks ?? -1;
  t.ok(before >= 0, `${before} ticks`);
  // Spin until the count moves (bounded: a busy host gives this process less of a CPU).
  const until = Date.now() + 5000;
  let after = before;
  while (after < before + 2 && Date.now() < until) after = readProcStat(process.pid)?.cpuTicks ?? -1;
  t.ok(after >= before + 2, `spinning adds ticks: ${before} → ${after} (${CLOCK_TICKS_PER_SECOND} a second)`);
});
