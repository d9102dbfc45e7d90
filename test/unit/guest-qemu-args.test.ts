import t from 'tap';
import { kernelCommandLine, parseTscKhz, qemuBootArgs, qemuOptionValue, type QemuBootOptions } from '../../server/guest/qemu-boot-args.js';

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

t.test('microvm uses virtio-mmio devices and needs the TSC frequency under TCG', async (t) => {
  t.throws(() => qemuBootArgs({ ...base, machine: 'microvm' }), /tscKhz/);
  const args = qemuBootArgs({ ...base, machine: 'microvm', tscKhz: 2445426, rootfs: '/vm/root.ext4' });
  t.match(values(args, '-machine')[0], /^microvm,/);
  t.match(values(args, '-append')[0], / tsc_early_khz=2445426$/);
  t.same(values(args, '-device').slice(0, 3), ['virtio-blk-device,drive=root', 'virtio-net-device,netdev=n0', 'virtio-serial-device,id=vser0']);
  t.match(values(args, '-drive')[0], /format=raw/, 'raw unless the name says qcow2');
  t.notMatch(kernelCommandLine({ machine: 'microvm', accel: 'kvm' }), /tsc_early_khz/, 'KVM needs no calibration help');
});

t.test('options and escaping', async (t) => {
  const args = qemuBootArgs({
    ...base,
    rootfs: '/odd,dir/disk.img',
    rootfsFormat: 'raw',
    agentSocket: '/odd,dir/agent.sock',
    hostForwards: [
      { hostPort: 2222, guestPort: 22 },
      { hostPort: 5353, guestPort: 53, protocol: 'udp', hostAddress: '0.0.0.0' },
    ],
    kernelArgs: ['banger.hostname=ci-1', 'quiet'],
    qmpSocket: '/vm/qmp.sock',
    pidFile: '/vm/qemu.pid',
  });
  t.equal(qemuOptionValue('a,b,,c'), 'a,,b,,,,c');
  t.same(values(args, '-drive'), ['file=/odd,,dir/disk.img,if=none,id=root,format=raw,discard=unmap']);
  t.ok(values(args, '-chardev').includes('socket,id=agent,path=/odd,,dir/agent.sock,server=on,wait=off'));
  t.same(values(args, '-netdev'), ['user,id=n0,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=udp:0.0.0.0:5353-:53']);
  t.match(values(args, '-append')[0], / banger\.hostname=ci-1 quiet$/);
  t.same(values(args, '-qmp'), ['unix:/vm/qmp.sock,server=on,wait=off']);
  t.same(values(args, '-pidfile'), ['/vm/qemu.pid']);

  t.throws(() => qemuBootArgs({ ...base, hostForwards: [{ hostPort: 0, guestPort: 80 }] }), /port/);
  t.throws(() => qemuBootArgs({ ...base, hostForwards: [{ hostPort: 80, guestPort: 70000 }] }), /port/);
  t.throws(() => qemuBootArgs({ ...base, hostForwards: [{ hostPort: 80, guestPort: 80, hostAddress: '1.2.3.4,x=y' }] }), /address/);
  t.throws(() => qemuBootArgs({ ...base, kernelArgs: ['two words'] }), /one word/);
  t.throws(() => qemuBootArgs({ ...base, memoryMiB: 12.5 }), /memoryMiB/);
  t.throws(() => qemuBootArgs({ ...base, cpus: 0 }), /cpus/);
});

t.test('parseTscKhz', async (t) => {
  t.equal(parseTscKhz('[    0.000070] tsc: Detected 2445.426 MHz processor\n'), 2445426);
  t.equal(
    parseTscKhz('tsc: Detected 2400.000 MHz processor\n[ 2.7] tsc: Refined TSC clocksource calibration: 2399.987 MHz\n'),
    2399987,
    'the refined value wins',
  );
  t.equal(parseTscKhz('nothing here'), null);
});
