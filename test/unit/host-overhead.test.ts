// GET /vms/{id} of a running VM reads the hypervisor's smaps (~10 ms of CPU): at most once per
// max age per process, shared by the requests that come meanwhile.
import t from 'tap';
import type { VmProcess } from '../../server/hypervisor/driver.js';
import { HostOverheadReadings } from '../../server/services/vms/host-overhead.js';

const process = (pid: number, startTime = '100') => ({ hypervisor: 'qemu', pid, startTime }) as VmProcess;

t.test('one read per process and max age; a failed read is null', async (t) => {
  const readings = new HostOverheadReadings(50);
  let reads = 0;
  const measure = (rssBytes: number) => async () => {
    reads++;
    return { rssBytes, guestRamRssBytes: 100 };
  };
  const [a, b] = await Promise.all([readings.of(process(1), measure(150)), readings.of(process(1), measure(999))]);
  t.same([a, b, reads], [50, 50, 1], 'requests at once share one read');
  t.equal(await readings.of(process(1), measure(999)), 50, 'within the max age: the kept figure');
  t.equal(await readings.of(process(1, '200'), measure(130)), 30, 'the same pid started again is another process');
  t.equal(await readings.of(process(2), measure(50)), 0, 'never below 0');
  await new Promise((resolve) => setTimeout(resolve, 60));
  t.equal(await readings.of(process(1), measure(180)), 80, 'past the max age: read again');
  t.equal(await readings.of(process(3), async () => Promise.reject(new Error('gone'))), null, 'a process that ended: null');
  t.equal(reads, 4);
});
