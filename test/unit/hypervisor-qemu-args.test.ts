import t from 'tap';
import type { LaunchSpec } from '../../server/hypervisor/driver.js';
import { checkSocketPath, qemuLaunchArgs, qemuVmFiles } from '../../server/hypervisor/qemu/launch-args.js';
import { restoreLaunchSpec } from '../../server/hypervisor/qemu/qemu-restore.js';
import type { SnapshotArtifacts } from '../../server/hypervisor/snapshot.js';

const spec: LaunchSpec = {
  vmDir: '/state/vms/v1',
  kernel: '/img/vmlinuz',
  initrd: '/img/initrd.img',
  rootDisk: '/state/vms/v1/root.qcow2',
  workDisk: '/state/vms/v1/work,disk.ext4',
  cpus: 2,
  memoryMiB: 512,
  portForwards: [
    { hostPort: 40022, guestPort: 22 },
    { hostPort: 40080, guestPort: 8080 },
  ],
  kernelArgs: ['banger.hostname=vm1'],
};

function values(args: string[], flag: string): string[] {
  return args.flatMap((arg, index) => (arg === flag && args[index + 1] !== undefined ? [args[index + 1] as string] : []));
}

t.test('the VM dir layout', async (t) => {
  t.same(qemuVmFiles('/state/vms/v1'), {
    qmpSocket: '/state/vms/v1/qmp.sock',
    agentSocket: '/state/vms/v1/agent.sock',
    shellSocket: '/state/vms/v1/shell.sock',
    consoleLog: '/state/vms/v1/console.log',
    stderrLog: '/state/vms/v1/qemu.log',
    pidFile: '/state/vms/v1/qemu.pid',
    migrationSocket: '/state/vms/v1/migrate.sock',
  });
});

t.test('command line', async (t) => {
  const args = qemuLaunchArgs(spec, 'tcg', qemuVmFiles(spec.vmDir));
  t.same(values(args, '-machine'), ['q35']);
  t.same(values(args, '-accel'), ['tcg']);
  t.same(values(args, '-smp'), ['2']);
  t.same(values(args, '-m'), ['512']);
  t.equal(values(args, '-append')[0], 'console=ttyS0 root=/dev/vda rw panic=-1 net.ifnames=0 banger.hostname=vm1');
  t.same(values(args, '-qmp'), ['unix:/state/vms/v1/qmp.sock,server=on,wait=off']);
  t.same(values(args, '-pidfile'), ['/state/vms/v1/qemu.pid']);
  t.same(values(args, '-drive'), [
    'file=/state/vms/v1/root.qcow2,if=none,id=root,format=qcow2,discard=unmap',
    // The comma in the file name is doubled so QEMU does not read it as an option separator.
    'file=/state/vms/v1/work,,disk.ext4,if=none,id=work,format=raw,discard=unmap',
  ]);
  const devices = values(args, '-device');
  t.ok(devices.indexOf('virtio-blk-pci,drive=root') < devices.indexOf('virtio-blk-pci,drive=work'), 'root disk is probed first (vda), work disk second (vdb)');
  t.same(values(args, '-netdev'), ['user,id=n0,hostfwd=tcp:127.0.0.1:40022-:22,hostfwd=tcp:127.0.0.1:40080-:8080']);
  t.ok(args.includes('-no-reboot'), 'a guest reboot or panic ends QEMU');

  t.same(values(qemuLaunchArgs(spec, 'kvm', qemuVmFiles(spec.vmDir)), '-accel'), ['kvm']);
  t.same(values(qemuLaunchArgs({ ...spec, rootDisk: '/state/vms/v1/root.img' }, 'tcg', qemuVmFiles(spec.vmDir)), '-drive')[0], 'file=/state/vms/v1/root.img,if=none,id=root,format=raw,discard=unmap', 'format from the name, never probed');
  t.throws(() => qemuLaunchArgs({ ...spec, kernelArgs: ['two words'] }, 'tcg', qemuVmFiles(spec.vmDir)), /one word/);
});

t.test('guest RAM in a file, and waiting for a saved state', async (t) => {
  const files = qemuVmFiles(spec.vmDir);
  const plain = qemuLaunchArgs(spec, 'tcg', files);
  t.same(values(plain, '-object'), [], 'anonymous RAM by default');
  t.notOk(plain.includes('-incoming'), 'a launch boots');

  const shared = qemuLaunchArgs({ ...spec, memory: { file: '/state/vms/v1/memory,ram', shared: true } }, 'tcg', files);
  t.same(values(shared, '-machine'), ['q35,memory-backend=pc.ram']);
  t.same(values(shared, '-object'), ['memory-backend-file,id=pc.ram,size=512M,mem-path=/state/vms/v1/memory,,ram,share=on']);
  t.same(values(shared, '-m'), ['512'], '-m stays, and must match the backend');

  const restored = qemuLaunchArgs(spec, 'tcg', files, { incoming: true });
  t.same(values(restored, '-incoming'), ['defer'], 'the state comes later, over QMP');
  t.ok(restored.includes('-S'), 'and the guest stays paused once it is in');
  t.same(
    restored.filter((arg) => arg !== '-incoming' && arg !== 'defer' && arg !== '-S'),
    plain,
    'otherwise the very same command line: same devices, same order',
  );
});

t.test('a restore launches the snapshot\'s machine on the clone\'s own disks and forwards', async (t) => {
  const snapshot: SnapshotArtifacts = {
    stateFile: '/snap/state',
    memoryFile: '/snap/memory',
    rootLayer: '/snap/root.qcow2',
    workLayer: '/snap/work.raw',
    compatibility: { hypervisor: 'qemu', binaryVersion: 'QEMU emulator version 7.2.22', machine: 'q35', cpus: 2, memoryMiB: 512 },
    sizeBytes: 1,
  };
  t.same(restoreLaunchSpec({ ...spec, snapshot }), { ...spec, guestShell: false, memory: { file: '/snap/memory', shared: false } }, 'RAM maps the memory file copy-on-write');
  t.same(restoreLaunchSpec({ ...spec, snapshot: { ...snapshot, memoryFile: null } }), { ...spec, guestShell: false }, 'RAM in the state file: anonymous RAM');
  const withShell = { ...snapshot, compatibility: { ...snapshot.compatibility, guestShell: true } };
  t.same(restoreLaunchSpec({ ...spec, snapshot: withShell }).guestShell, true, 'the shell port when the source had it');
  const shellPorts = (launch: typeof spec) => qemuLaunchArgs(launch, 'tcg', qemuVmFiles(launch.vmDir)).filter((arg) => arg.includes('org.banger.shell')).length;
  t.equal(shellPorts(restoreLaunchSpec({ ...spec, snapshot })), 0, 'none for a snapshot made before it existed: the device model must match the saved state');
  t.equal(shellPorts(restoreLaunchSpec({ ...spec, snapshot: withShell })), 1);
  t.equal(shellPorts(spec), 1, 'a boot always has it');
});

t.test('socket paths must fit sun_path', async (t) => {
  t.doesNotThrow(() => checkSocketPath(`/${'a'.repeat(106)}`));
  t.throws(() => checkSocketPath(`/${'a'.repeat(107)}`), /longer than 107 bytes/);
});
