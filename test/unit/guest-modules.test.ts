import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { readModinfo } from '../../server/host/kernel/modinfo.js';
import { decompressModules, writeModulesDep, type ModuleCompression } from '../../server/host/kernel/module-files.js';
import { formatModulesDep, moduleLoadOrder, moduleNameFromPath, ModuleNotFoundError, parseModulesDep } from '../../server/host/kernel/modules-dep.js';
import { parseKernelDependency } from '../../server/host/kernel/package.js';
import { run, RunError } from '../../server/host/runner.js';

// Shaped like the Debian 6.1 cloud kernel's modules.dep (depmod lists a module's
// whole closure, loadable right to left).
const MODULES_DEP = `kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_mmio.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/net/core/failover.ko:
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/drivers/net/virtio_net.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko
kernel/drivers/char/virtio_console.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/fs/fat/vfat.ko: kernel/fs/fat/fat.ko
kernel/fs/fat/fat.ko:
`;

const BUILTIN = 'kernel/fs/ext4/ext4.ko\nkernel/fs/jbd2/jbd2.ko\n';

function positions(order: string[]): Map<string, number> {
  return new Map(order.map((path, index) => [moduleNameFromPath(path), index]));
}

t.test('load order puts every module after what it needs', async (t) => {
  const plan = moduleLoadOrder(MODULES_DEP, ['virtio_blk', 'virtio_net', 'virtio_pci', 'virtio_console', 'ext4'], BUILTIN);
  t.same(plan.builtin, ['ext4']);
  const at = positions(plan.load);
  t.equal(plan.load.length, new Set(plan.load).size, 'no duplicates');
  const dep = parseModulesDep(MODULES_DEP);
  for (const path of plan.load) {
    const entry = dep.get(moduleNameFromPath(path));
    for (const needed of entry?.deps ?? []) {
      t.ok((at.get(moduleNameFromPath(needed)) ?? Infinity) < (at.get(moduleNameFromPath(path)) ?? -1), `${needed} before ${path}`);
    }
  }
  t.equal(plan.load[0], 'kernel/drivers/virtio/virtio_ring.ko');
  t.notOk(at.has('vfat'), 'unrequested modules stay out');
});

t.test('the order does not depend on how the dependency lists are sorted', async (t) => {
  // Same graph with every dependency list reversed.
  const shuffled = MODULES_DEP.split('\n')
    .map((line) => {
      const [path, deps = ''] = line.split(':');
      return line === '' ? '' : `${path}: ${deps.trim().split(/\s+/).reverse().join(' ')}`;
    })
    .join('\n');
  const plan = moduleLoadOrder(shuffled, ['virtio_net']);
  const at = positions(plan.load);
  t.ok((at.get('failover') ?? 99) < (at.get('net_failover') ?? -1));
  t.ok((at.get('virtio_ring') ?? 99) < (at.get('virtio') ?? -1));
  t.equal(plan.load.at(-1), 'kernel/drivers/net/virtio_net.ko');
});

t.test('names with dashes, missing modules and cycles', async (t) => {
  const plan = moduleLoadOrder('kernel/x/snd-foo.ko: kernel/x/snd_bar.ko\nkernel/x/snd_bar.ko:\n', ['snd-foo']);
  t.same(plan.load, ['kernel/x/snd_bar.ko', 'kernel/x/snd-foo.ko']);
  t.throws(() => moduleLoadOrder(MODULES_DEP, ['nonexistent']), ModuleNotFoundError);
  t.throws(() => moduleLoadOrder('kernel/a.ko: kernel/b.ko\nkernel/b.ko: kernel/a.ko\n', ['a']), /cycle/);
  t.throws(() => parseModulesDep('no colon here'), /malformed/);
});

t.test('formatModulesDep writes depmod-style closures', async (t) => {
  const text = formatModulesDep(
    new Map([
      ['failover', { path: 'kernel/net/core/failover.ko', depends: [] }],
      ['net_failover', { path: 'kernel/drivers/net/net_failover.ko', depends: ['failover'] }],
      ['virtio_ring', { path: 'kernel/drivers/virtio/virtio_ring.ko', depends: [] }],
      ['virtio', { path: 'kernel/drivers/virtio/virtio.ko', depends: ['virtio_ring'] }],
      ['virtio_net', { path: 'kernel/drivers/net/virtio_net.ko', depends: ['virtio_ring', 'virtio', 'net_failover'] }],
    ]),
  );
  const dep = parseModulesDep(text);
  t.same(new Set(dep.get('virtio_net')?.deps), new Set([
    'kernel/drivers/virtio/virtio.ko',
    'kernel/drivers/virtio/virtio_ring.ko',
    'kernel/drivers/net/net_failover.ko',
    'kernel/net/core/failover.ko',
  ]));
  t.same(dep.get('failover')?.deps, []);
  // Loading a closure right to left, like modprobe, must respect every edge.
  const loadList = [...(dep.get('virtio_net')?.deps ?? [])].reverse();
  t.ok(loadList.indexOf('kernel/net/core/failover.ko') < loadList.indexOf('kernel/drivers/net/net_failover.ko'));
  t.ok(loadList.indexOf('kernel/drivers/virtio/virtio_ring.ko') < loadList.indexOf('kernel/drivers/virtio/virtio.ko'));
});

/** A minimal ELF64 object with a .modinfo section, as a kernel module has. */
function fakeModule(modinfo: string[]): Buffer {
  const info = Buffer.from(modinfo.map((item) => `${item}\0`).join(''), 'utf8');
  const shstrtab = Buffer.from('\0.modinfo\0.shstrtab\0', 'latin1');
  const infoOffset = 64;
  const strOffset = infoOffset + info.length;
  const shoff = Math.ceil((strOffset + shstrtab.length) / 8) * 8;
  const elf = Buffer.alloc(shoff + 3 * 64);
  elf.writeUInt32BE(0x7f454c46, 0);
  elf[4] = 2; // ELFCLASS64
  elf[5] = 1; // little-endian
  elf[6] = 1;
  elf.writeUInt16LE(1, 0x10); // ET_REL
  elf.writeUInt16LE(62, 0x12); // x86-64
  elf.writeBigUInt64LE(BigInt(shoff), 0x28);
  elf.writeUInt16LE(64, 0x34);
  elf.writeUInt16LE(64, 0x3a);
  elf.writeUInt16LE(3, 0x3c);
  elf.writeUInt16LE(2, 0x3e);
  info.copy(elf, infoOffset);
  shstrtab.copy(elf, strOffset);
  const section = (index: number, name: number, type: number, offset: number, size: number): void => {
    const at = shoff + index * 64;
    elf.writeUInt32LE(name, at);
    elf.writeUInt32LE(type, at + 4);
    elf.writeBigUInt64LE(BigInt(offset), at + 24);
    elf.writeBigUInt64LE(BigInt(size), at + 32);
  };
  section(1, 1, 1, infoOffset, info.length); // .modinfo, PROGBITS
  section(2, 10, 3, strOffset, shstrtab.length); // .shstrtab, STRTAB
  return elf;
}

t.test('readModinfo reads the .modinfo section', async (t) => {
  const info = readModinfo(fakeModule(['license=GPL', 'alias=virtio:d00000001v*', 'alias=pci:v1AF4*', 'depends=virtio,virtio_ring', 'name=virtio_net']));
  t.same(info.get('depends'), ['virtio,virtio_ring']);
  t.same(info.get('alias'), ['virtio:d00000001v*', 'pci:v1AF4*']);
  t.same(info.get('name'), ['virtio_net']);
  t.throws(() => readModinfo(Buffer.from('not an elf file at all, not at all, not at all, not at all, ok')), /ELF/);
});

t.test('writeModulesDep builds modules.dep from the modules themselves', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'banger-modules-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'kernel/drivers/virtio'), { recursive: true });
  await mkdir(join(dir, 'kernel/drivers/block'), { recursive: true });
  await writeFile(join(dir, 'kernel/drivers/virtio/virtio_ring.ko'), fakeModule(['depends=']));
  await writeFile(join(dir, 'kernel/drivers/virtio/virtio.ko'), fakeModule(['depends=virtio_ring']));
  await writeFile(join(dir, 'kernel/drivers/block/virtio_blk.ko'), fakeModule(['depends=virtio,virtio_ring']));
  await writeModulesDep(dir);
  const text = await readFile(join(dir, 'modules.dep'), 'utf8');
  t.equal(
    text,
    'kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\n' +
      'kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\n' +
      'kernel/drivers/virtio/virtio_ring.ko:\n',
  );
  t.same(moduleLoadOrder(text, ['virtio_blk']).load, [
    'kernel/drivers/virtio/virtio_ring.ko',
    'kernel/drivers/virtio/virtio.ko',
    'kernel/drivers/block/virtio_blk.ko',
  ]);
});

t.test('parseKernelDependency picks the real kernel package', async (t) => {
  t.equal(
    parseKernelDependency('linux-image-cloud-amd64\n  Depends: linux-image-6.1.0-56-cloud-amd64\n'),
    'linux-image-6.1.0-56-cloud-amd64',
  );
  t.equal(parseKernelDependency('linux-image-cloud-amd64\n  Depends: <linux-image-6.1.0-99-cloud-amd64>\n'), null, 'unavailable');
  t.equal(parseKernelDependency('W: Unable to locate package linux-image-cloud-amd64\n'), null);
  t.equal(
    parseKernelDependency('x\n |Depends: linux-image-6.1.0-1-cloud-amd64\n  Depends: linux-image-6.1.0-2-cloud-amd64\n'),
    'linux-image-6.1.0-1-cloud-amd64',
  );
  t.equal(moduleNameFromPath('kernel/sound/snd-hda.ko.zst'), 'snd_hda');
});

t.test('decompressModules turns .ko.gz/.ko.xz/.ko.zst into plain .ko files', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'banger-modules-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'kernel/sub'), { recursive: true });
  await writeFile(join(dir, 'kernel/plain.ko'), 'plain');
  const expected: ModuleCompression[] = ['none'];
  // gzip is always installed; xz and zstd are tried where they are.
  const compressors: { kind: ModuleCompression; command: string; args: string[] }[] = [
    { kind: 'gz', command: 'gzip', args: ['-n'] },
    { kind: 'xz', command: 'xz', args: [] },
    { kind: 'zst', command: 'zstd', args: ['-q', '--rm'] },
  ];
  for (const { kind, command, args } of compressors) {
    const file = join(dir, 'kernel/sub', `m_${kind}.ko`);
    await writeFile(file, `module ${kind}`);
    try {
      await run(command, [...args, file]);
      expected.push(kind);
    } catch (error) {
      if (!(error instanceof RunError && error.reason === 'spawn')) throw error;
      await rm(file);
      t.comment(`${command} not installed; .ko.${kind} not tested`);
    }
  }
  t.same(await decompressModules(dir, {}), [...expected].sort());
  for (const kind of expected.filter((kind) => kind !== 'none')) {
    t.equal(await readFile(join(dir, 'kernel/sub', `m_${kind}.ko`), 'utf8'), `module ${kind}`);
    await t.rejects(readFile(join(dir, 'kernel/sub', `m_${kind}.ko.${kind}`)), { code: 'ENOENT' });
  }
  t.equal(await readFile(join(dir, 'kernel/plain.ko'), 'utf8'), 'plain');
});
