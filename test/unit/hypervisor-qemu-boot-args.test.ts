import t from 'tap';
import { diskFormat, kernelCommandLine, qemuBootArgs, qemuOptionValue, refusedHostForwards, type QemuBootOptions } from '../../server/hypervisor/qemu/boot-args.js';
import { DEFAULT_TRANSLATION_CACHE_MIB, parseTranslationCacheSetting, translationCacheMiB } from '../../server/hypervisor/qemu/translation-cache.js';
import { DEFAULT_MALLOC_ARENAS, parseMallocArenaSetting, qemuEnvironment } from '../../server/hypervisor/qemu/malloc-arenas.js';

const base: QemuBootOptions = {
  kernel: '/k/vmlinuz',
  initrd: '/k/initrd.img',
  rootfs: '/vm/disk.qcow2',
  memoryMiB: 256,
  cpus: 2,
  agentSocket: '/vm/agent.sock',
  consoleLog: '/vm/console.log',
  accel: 'tcg',
};

/** Value following each occurrence of flag. */
function values(args: string[], flag: string): string[] {
  return args.flatMap((arg, index) => (arg === flag && args[index + 1] !== undefined ? [args[index + 1] as string] : []));
}

t.test('q35 under TCG', async (t) => {
  const args = qemuBootArgs({ ...base, hostForwards: [{ hostPort: 40000, guestPort: 8080 }] });
  for (const flag of ['-nodefaults', '-no-user-config', '-no-reboot']) t.ok(args.includes(flag), flag);
  t.same(values(args, '-display'), ['none']);
  t.same(values(args, '-machine'), ['q35']);
  t.same(values(args, '-accel'), ['tcg']);
  t.same(values(args, '-cpu'), [], 'TCG keeps the default CPU model');
  t.same(values(args, '-m'), ['256']);
  t.same(values(args, '-smp'), ['2']);
  t.same(values(args, '-kernel'), ['/k/vmlinuz']);
  t.same(values(args, '-initrd'), ['/k/initrd.img']);
  t.equal(values(args, '-append')[0], 'console=ttyS0 root=/dev/vda rw panic=-1 net.ifnames=0');
  t.same(values(args, '-serial'), ['chardev:console']);
  t.same(values(args, '-drive'), ['file=/vm/disk.qcow2,if=none,id=root,format=qcow2,discard=unmap']);
  t.same(values(args, '-netdev'), ['user,id=n0,hostfwd=tcp:127.0.0.1:40000-:8080']);
  t.same(values(args, '-device'), [
    'virtio-blk-pci,drive=root',
    'virtio-net-pci,netdev=n0',
    'virtio-serial-pci,id=vser0',
    'virtserialport,bus=vser0.0,chardev=agent,name=org.banger.agent',
  ]);
  t.same(values(args, '-chardev'), [
    'file,id=console,path=/vm/console.log',
    'socket,id=agent,path=/vm/agent.sock,server=on,wait=off',
  ]);
});

t.test('KVM uses the host CPU', async (t) => {
  const args = qemuBootArgs({ ...base, accel: 'kvm' });
  t.same(values(args, '-accel'), ['kvm']);
  t.same(values(args, '-cpu'), ['host']);
});

t.test('the work disk is the second virtio disk', async (t) => {
  const args = qemuBootArgs({ ...base, workDisk: '/vm/work.ext4' });
  t.same(values(args, '-drive'), [
    'file=/vm/disk.qcow2,if=none,id=root,format=qcow2,discard=unmap',
    'file=/vm/work.ext4,if=none,id=work,format=raw,discard=unmap',
  ]);
  const devices = values(args, '-device');
  t.ok(devices.indexOf('virtio-blk-pci,drive=root') < devices.indexOf('virtio-blk-pci,drive=work'), 'root disk probed first (vda), work disk second (vdb)');
  t.equal(diskFormat('/vm/root.img'), 'raw', 'raw unless the name says qcow2: never probed');
  t.equal(kernelCommandLine(), 'console=ttyS0 root=/dev/vda rw panic=-1 net.ifnames=0');
});

t.test('a refused host forward names its port', async (t) => {
  const stderr = "qemu-system-x86_64: -netdev user,id=n0,hostfwd=tcp:127.0.0.1:40022-:22: could not set up host forwarding rule 'tcp:127.0.0.1:40022-:22'\n";
  t.same(refusedHostForwards(stderr, [40022, 40080]), [40022]);
  t.same(refusedHostForwards('qemu-system-x86_64: could not set up host forwarding rule\n', [40022, 40080]), [40022, 40080], 'no port named: every forward is suspect');
  t.same(refusedHostForwards('qemu-system-x86_64: -drive file=/x: Could not open', [40022]), [], 'another failure is no port conflict');
});

t.test('options and escaping', async (t) => {
  const args = qemuBootArgs({
    ...base,
    rootfs: '/odd,dir/disk.img',
    agentSocket: '/odd,dir/agent.sock',
    hostForwards: [
      { hostPort: 2222, guestPort: 22 },
      { hostPort: 5353, guestPort: 53 },
    ],
    kernelArgs: ['banger.hostname=ci-1', 'quiet'],
    qmpSocket: '/vm/qmp.sock',
    pidFile: '/vm/qemu.pid',
  });
  t.equal(qemuOptionValue('a,b,,c'), 'a,,b,,,,c');
  t.same(values(args, '-drive'), ['file=/odd,,dir/disk.img,if=none,id=root,format=raw,discard=unmap']);
  t.ok(values(args, '-chardev').includes('socket,id=agent,path=/odd,,dir/agent.sock,server=on,wait=off'));
  t.same(values(args, '-netdev'), ['user,id=n0,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=tcp:127.0.0.1:5353-:53']);
  t.match(values(args, '-append')[0], / banger\.hostname=ci-1 quiet$/);
  t.same(values(args, '-qmp'), ['unix:/vm/qmp.sock,server=on,wait=off']);
  t.same(values(args, '-pidfile'), ['/vm/qemu.pid']);

  t.throws(() => qemuBootArgs({ ...base, hostForwards: [{ hostPort: 0, guestPort: 80 }] }), /port/);
  t.throws(() => qemuBootArgs({ ...base, hostForwards: [{ hostPort: 80, guestPort: 70000 }] }), /port/);
  t.throws(() => qemuBootArgs({ ...base, kernelArgs: ['two words'] }), /one word/);
  t.throws(() => qemuBootArgs({ ...base, memoryMiB: 12.5 }), /memoryMiB/);
  t.throws(() => qemuBootArgs({ ...base, cpus: 0 }), /cpus/);
});

t.test('guest RAM in a file', async (t) => {
  const shared = qemuBootArgs({ ...base, memoryFile: { file: '/vm/guest,ram', shared: true } });
  t.same(values(shared, '-machine'), ['q35,memory-backend=pc.ram'], 'the backend is the machine RAM');
  t.same(values(shared, '-object'), ['memory-backend-file,id=pc.ram,size=256M,mem-path=/vm/guest,,ram,share=on']);
  const private_ = qemuBootArgs({ ...base, memoryFile: { file: '/snap/memory', shared: false } });
  t.same(values(private_, '-object'), ['memory-backend-file,id=pc.ram,size=256M,mem-path=/snap/memory,share=off'], 'copy-on-write mapping');
  t.same(values(qemuBootArgs(base), '-object'), [], 'anonymous RAM without a file');
});

t.test('waiting for a saved state', async (t) => {
  const args = qemuBootArgs({ ...base, incoming: true });
  t.same(values(args, '-incoming'), ['defer']);
  t.ok(args.includes('-S'), 'paused once the state is in');
  t.notOk(qemuBootArgs(base).includes('-S'), 'a boot runs at once');
});

t.test('the TCG translation cache size', async (t) => {
  t.same(values(qemuBootArgs({ ...base, translationCacheMiB: 64 }), '-accel'), ['tcg,tb-size=64']);
  t.same(values(qemuBootArgs({ ...base, accel: 'kvm', translationCacheMiB: 64 }), '-accel'), ['kvm'], 'KVM has no translation cache');
  t.same(values(qemuBootArgs(base), '-accel'), ['tcg'], "absent: QEMU's own default");
  t.equal(parseTranslationCacheSetting(undefined), 'auto');
  t.equal(parseTranslationCacheSetting('default'), 'default');
  t.equal(parseTranslationCacheSetting('128'), 128);
  t.throws(() => parseTranslationCacheSetting('64M'), /BANGER_QEMU_TB_SIZE_MIB/);
  t.throws(() => parseTranslationCacheSetting('0'), /1 to 4096/);
  t.equal(translationCacheMiB('auto'), DEFAULT_TRANSLATION_CACHE_MIB);
  t.equal(translationCacheMiB('default'), undefined);
  t.equal(translationCacheMiB(32), 32);
});

t.test("QEMU's malloc arenas", async (t) => {
  t.equal(parseMallocArenaSetting(undefined), 'auto');
  t.equal(parseMallocArenaSetting('default'), 'default');
  t.equal(parseMallocArenaSetting('2'), 2);
  t.throws(() => parseMallocArenaSetting('0'), /BANGER_QEMU_MALLOC_ARENA_MAX.*1 to 64/);
  t.throws(() => parseMallocArenaSetting('two'), /BANGER_QEMU_MALLOC_ARENA_MAX/);
  const base = { PATH: '/usr/bin', MALLOC_ARENA_MAX: '8' };
  t.same(qemuEnvironment('auto', base), { PATH: '/usr/bin', MALLOC_ARENA_MAX: String(DEFAULT_MALLOC_ARENAS) });
  t.same(qemuEnvironment(4, base), { PATH: '/usr/bin', MALLOC_ARENA_MAX: '4' });
  t.same(qemuEnvironment('default', base), { PATH: '/usr/bin' }, "glibc's own: the daemon's setting is not passed on either");
});
