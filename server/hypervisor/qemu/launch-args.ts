import { join } from 'node:path';
import { qemuBootArgs, qemuOptionValue } from '../../guest/qemu-boot-args.js';
import type { Acceleration, LaunchSpec } from '../driver.js';

/** Where a QEMU VM keeps its runtime files inside its VM dir. */
export interface QemuVmFiles {
  qmpSocket: string;
  agentSocket: string;
  consoleLog: string;
  /** QEMU's stdout and stderr. */
  stderrLog: string;
  pidFile: string;
}

export function qemuVmFiles(vmDir: string): QemuVmFiles {
  return {
    qmpSocket: join(vmDir, 'qmp.sock'),
    agentSocket: join(vmDir, 'agent.sock'),
    consoleLog: join(vmDir, 'console.log'),
    stderrLog: join(vmDir, 'qemu.log'),
    pidFile: join(vmDir, 'qemu.pid'),
  };
}

// sun_path is 108 bytes including the terminating NUL; QEMU refuses longer paths
// with a message that does not say which socket.
const MAX_SOCKET_PATH_BYTES = 107;

export function checkSocketPath(path: string): void {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    throw new Error(`unix socket path is longer than ${MAX_SOCKET_PATH_BYTES} bytes: ${path} (use a shorter state directory)`);
  }
}

/**
 * The full qemu-system-x86_64 command line for a VM: banger's boot arguments on
 * q35 (the machine type that booted every time under TCG, docs/guest-agent.md)
 * plus the work disk as the second virtio disk. Pure: nothing is checked on disk.
 */
export function qemuLaunchArgs(spec: LaunchSpec, accel: Acceleration, files: QemuVmFiles): string[] {
  const args = qemuBootArgs({
    kernel: spec.kernel,
    initrd: spec.initrd,
    // Format from the name (.qcow2 or raw), never probed from the content: a
    // guest could write a qcow2 header into a raw disk and name a host file as backing.
    rootfs: spec.rootDisk,
    memoryMiB: spec.memoryMiB,
    cpus: spec.cpus,
    agentSocket: files.agentSocket,
    consoleLog: files.consoleLog,
    accel,
    machine: 'q35',
    hostForwards: spec.portForwards.map(({ hostPort, guestPort }) => ({ hostPort, guestPort })),
    kernelArgs: spec.kernelArgs,
    qmpSocket: files.qmpSocket,
    pidFile: files.pidFile,
  });
  // Devices are numbered on the PCI bus in command-line order, so this disk
  // probes after the root disk and the guest sees it as /dev/vdb.
  args.push(
    '-drive',
    `file=${qemuOptionValue(spec.workDisk)},if=none,id=work,format=raw,discard=unmap`,
    '-device',
    'virtio-blk-pci,drive=work',
  );
  return args;
}
