import t from 'tap';
import { parseSmaps, readSmaps, sumMappings } from '../../server/host/proc-memory.js';
import { guestRamMappings, qemuGuestMemoryFromArgs, qemuMemoryUsage } from '../../server/hypervisor/qemu/memory-usage.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** One smaps block in the kernel's layout (6.1), with the fields this code does not read as well. */
function block(header: string, kB: { size: number; rss: number; pss?: number }, flags: string): string {
  const pss = kB.pss ?? kB.rss;
  return [
    header,
    `Size:           ${String(kB.size).padStart(8)} kB`,
    'KernelPageSize:        4 kB',
    'MMUPageSize:           4 kB',
    `Rss:            ${String(kB.rss).padStart(8)} kB`,
    `Pss:            ${String(pss).padStart(8)} kB`,
    `Pss_Dirty:      ${String(pss).padStart(8)} kB`,
    'Shared_Clean:          0 kB',
    `Private_Dirty:  ${String(kB.rss).padStart(8)} kB`,
    'Anonymous:             0 kB',
    'THPeligible:           1',
    `VmFlags: ${flags} `,
  ].join('\n');
}

// Shapes recorded from qemu-system-x86_64 7.2 (q35, TCG, -m 256) on Debian 12.
const qemuAnonymous = [
  block('5647b4e27000-5647b5227000 r--p 00000000 fe:00 1180731                    /usr/bin/qemu-system-x86_64', { size: 4096, rss: 4096, pss: 2048 }, 'rd mr mw me'),
  block('5647c08d9000-5647c1bdd000 rw-p 00000000 00:00 0                          [heap]', { size: 19472, rss: 5836 }, 'rd wr mr mw me ac'),
  block('7f481f800000-7f481fa00000 rw-p 00000000 00:00 0 ', { size: 2048, rss: 2048 }, 'rd wr mr mw me dc ac hg mg'),
  block('7f481fa00000-7f481fa01000 ---p 00000000 00:00 0 ', { size: 4, rss: 0 }, 'mr mw me dc'),
  block('7f481fe00000-7f482fe00000 rw-p 00000000 00:00 0 ', { size: 262144, rss: 124928 }, 'rd wr mr mw me dc ac hg mg'),
  block('7f4830000000-7f4833fff000 rwxp 00000000 00:00 0 ', { size: 65532, rss: 45056 }, 'rd wr ex mr mw me ac hg'),
  block('7f4833fff000-7f4834000000 ---p 00000000 00:00 0 ', { size: 4, rss: 0 }, 'mr mw me ac hg'),
  block('7f4834000000-7f4837fff000 rwxp 00000000 00:00 0 ', { size: 65532, rss: 262144 / 16 }, 'rd wr ex mr mw me ac hg'),
  block('7f487c0f9000-7f487d000000 rw-p 00000000 00:00 0 ', { size: 15388, rss: 14336 }, 'rd wr mr mw me ac'),
  block('7f487d200000-7f487d240000 rw-p 00000000 00:00 0 ', { size: 256, rss: 256 }, 'rd wr mr mw me dc ac hg mg'),
  block('ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]', { size: 4, rss: 0 }, 'ex'),
].join('\n');

t.test('parseSmaps reads every mapping with its sizes in bytes, permissions, path and flags', async (t) => {
  const mappings = parseSmaps(`${qemuAnonymous}\n`);
  t.equal(mappings.length, 11);
  t.same(mappings[0], {
    start: 0x5647b4e27000,
    end: 0x5647b5227000,
    sizeBytes: 4 * MiB,
    rssBytes: 4 * MiB,
    pssBytes: 2 * MiB,
    perms: 'r--p',
    path: '/usr/bin/qemu-system-x86_64',
    vmFlags: ['rd', 'mr', 'mw', 'me'],
  });
  t.equal(mappings[1]?.path, '[heap]');
  t.equal(mappings[4]?.path, '', 'anonymous memory has no path, not even the trailing blank');
  t.equal(mappings[4]?.sizeBytes, 256 * MiB);
  t.equal(mappings[4]?.rssBytes, 124928 * KiB);
  t.same(mappings[4]?.vmFlags, ['rd', 'wr', 'mr', 'mw', 'me', 'dc', 'ac', 'hg', 'mg']);
  t.equal(mappings[5]?.perms, 'rwxp');
  t.equal(mappings[10]?.start, 0xffffffffff600000, 'a page-aligned address at the top of the address space stays exact');
  t.equal(mappings[10]?.sizeBytes, 4 * KiB);
});

t.test('parseSmaps keeps paths with spaces and the deleted marker, and ignores what it does not know', async (t) => {
  const text = [
    block('7f0000000000-7f0010000000 rw-s 00000000 fe:00 2204035                    /var/lib/banger/vms/a b/ram (deleted)', { size: 262144, rss: 1024, pss: 512 }, 'rd wr sh mr mw me ms dc hg'),
    'Unknown_Field: twelve',
    block('7f0020000000-7f0020001000 r--p 00001000 fe:00 7  /lib/x.so', { size: 4, rss: 4 }, 'rd mr mw me'),
  ].join('\n');
  const mappings = parseSmaps(text);
  t.equal(mappings.length, 2);
  t.equal(mappings[0]?.path, '/var/lib/banger/vms/a b/ram (deleted)');
  t.equal(mappings[0]?.perms, 'rw-s');
  t.equal(mappings[0]?.pssBytes, 512 * KiB);
  t.equal(mappings[1]?.path, '/lib/x.so');
  t.same(parseSmaps(''), []);
});

t.test('a mapping without a Size line takes its size from its addresses', async (t) => {
  const [mapping] = parseSmaps('7f0000000000-7f0000200000 rw-p 00000000 00:00 0\nRss:                 8 kB\n');
  t.equal(mapping?.sizeBytes, 2 * MiB);
  t.equal(mapping?.rssBytes, 8 * KiB);
  t.equal(mapping?.pssBytes, 0);
  t.same(mapping?.vmFlags, []);
});

t.test('sumMappings adds resident and proportional bytes', async (t) => {
  const totals = sumMappings(parseSmaps(qemuAnonymous));
  t.equal(totals.rssBytes, (4096 + 5836 + 2048 + 124928 + 45056 + 16384 + 14336 + 256) * KiB);
  t.equal(totals.pssBytes, totals.rssBytes - 2048 * KiB);
  t.same(sumMappings([]), { rssBytes: 0, pssBytes: 0 });
});

t.test('guest RAM without a file is the anonymous RAM block of exactly -m', async (t) => {
  const ram = guestRamMappings(parseSmaps(qemuAnonymous), 256);
  t.equal(ram.length, 1);
  t.equal(ram[0]?.start, 0x7f481fe00000);
  t.equal(sumMappings(ram).rssBytes, 124928 * KiB);
  t.throws(() => guestRamMappings(parseSmaps(qemuAnonymous), 512), /no anonymous RAM block of 512 MiB/);
  t.throws(() => guestRamMappings(parseSmaps(qemuAnonymous), 64), /no anonymous RAM block of 64 MiB/, 'a 64 MiB translation-cache region is not a RAM block');
});

t.test('guest RAM split into adjacent pieces is summed', async (t) => {
  const split = [
    block('7f0000000000-7f0008000000 rw-p 00000000 00:00 0 ', { size: 131072, rss: 1000 }, 'rd wr mr mw me dc ac hg mg'),
    block('7f0008000000-7f0010000000 rw-p 00000000 00:00 0 ', { size: 131072, rss: 24 }, 'rd wr mr mw me dc ac mg'),
    block('7f0010000000-7f0010001000 ---p 00000000 00:00 0 ', { size: 4, rss: 0 }, 'mr mw me dc'),
  ].join('\n');
  const ram = guestRamMappings(parseSmaps(split), 256);
  t.equal(ram.length, 2);
  t.equal(sumMappings(ram).rssBytes, 1024 * KiB);
});

t.test('two candidates of the right size are refused rather than guessed', async (t) => {
  const two = [
    block('7f0000000000-7f0010000000 rw-p 00000000 00:00 0 ', { size: 262144, rss: 1 }, 'rd wr dc'),
    block('7f0020000000-7f0030000000 rw-p 00000000 00:00 0 ', { size: 262144, rss: 1 }, 'rd wr dc'),
  ].join('\n');
  t.throws(() => guestRamMappings(parseSmaps(two), 256), /2 anonymous RAM block of 256 MiB/);
});

t.test('guest RAM in a file is that file\'s mapping, shared or copy-on-write, even unlinked', async (t) => {
  const withFile = (perms: string, path: string): string =>
    [
      block('7f5cfae00000-7f5cfb000000 rw-p 00000000 00:00 0 ', { size: 2048, rss: 2048 }, 'rd wr mr mw me dc ac hg mg'),
      block(`7f5cfbfff000-7f5d0bfff000 ${perms} 00000000 fe:00 2204035                    ${path}`, { size: 262144, rss: 119052 }, 'rd wr sh mr mw me ms dc hg'),
      block('7f5d10000000-7f5d20000000 rw-p 00000000 00:00 0 ', { size: 262144, rss: 5 }, 'rd wr mr mw me dc'),
    ].join('\n');
  for (const [perms, path] of [['rw-s', '/vm/ram'], ['rw-p', '/vm/ram'], ['rw-s', '/vm/ram (deleted)']] as const) {
    const ram = guestRamMappings(parseSmaps(withFile(perms, path)), 256, '/vm/ram');
    t.equal(sumMappings(ram).rssBytes, 119052 * KiB, `${perms} ${path}`);
  }
  t.throws(() => guestRamMappings(parseSmaps(withFile('rw-s', '/vm/other')), 256, '/vm/ram'), /no mapping of \/vm\/ram of 256 MiB/);
});

t.test('the guest memory a QEMU command line asks for', async (t) => {
  t.same(qemuGuestMemoryFromArgs(['-machine', 'q35', '-accel', 'tcg', '-m', '1024', '-smp', '2']), { memoryMiB: 1024 });
  t.same(qemuGuestMemoryFromArgs(['-m', 'size=2G,slots=2,maxmem=4G']), { memoryMiB: 2048 });
  t.same(qemuGuestMemoryFromArgs(['-m', '512M']), { memoryMiB: 512 });
  t.same(
    qemuGuestMemoryFromArgs(['-machine', 'q35', '-m', '256', '-object', 'memory-backend-file,id=ram0,size=256M,mem-path=/vm/a,,b/ram,share=on', '-machine', 'memory-backend=ram0']),
    { memoryMiB: 256, memoryFile: '/vm/a,b/ram' },
    'a doubled comma is part of the path',
  );
  t.same(
    qemuGuestMemoryFromArgs(['-m', '256', '-object', '{"qom-type":"memory-backend-file","id":"m","size":268435456,"mem-path":"/vm/ram","share":false}', '-machine', 'q35,memory-backend=m']),
    { memoryMiB: 256, memoryFile: '/vm/ram' },
  );
  t.same(qemuGuestMemoryFromArgs(['-m', '256', '-object', 'memory-backend-ram,id=m,size=256M', '-machine', 'q35,memory-backend=m']), { memoryMiB: 256 });
  t.same(qemuGuestMemoryFromArgs(['-m', '256', '-object', 'memory-backend-file,id=other,size=1M,mem-path=/x']), { memoryMiB: 256 }, 'a backend the machine does not use is not its RAM');
  t.throws(() => qemuGuestMemoryFromArgs(['-smp', '2']), /no -m/);
  t.throws(() => qemuGuestMemoryFromArgs(['-m', '1536K']), /no -m of whole MiB/);
});

t.test('readSmaps reads a live process and answers null for none', async (t) => {
  const own = await readSmaps(process.pid);
  t.ok(own && own.length > 10);
  t.ok(sumMappings(own ?? []).rssBytes > 10 * MiB, 'this Node process has more than 10 MiB resident');
  t.equal(await readSmaps(0), null);
  t.equal(await readSmaps(2 ** 22 + 1), null, 'above pid_max');
});

t.test('qemuMemoryUsage refuses a pid whose start time is not the recorded one', async (t) => {
  await t.rejects(qemuMemoryUsage(process.pid, '1', 256), /is not running/);
});
