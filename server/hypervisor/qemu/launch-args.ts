import { dirname, join } from 'node:path';
import { qemuBootArgs } from './boot-args.js';
import type { Acceleration, LaunchSpec, VmProcess } from '../driver.js';

/** Where a QEMU VM keeps its runtime files inside its VM dir. */
export interface QemuVmFiles {
  qmpSocket: string;
  agentSocket: string;
  /** The guest shell's port (SSH for exec and files); see shellSocketOf. */
  shellSocket: string;
  consoleLog: string;
  /** QEMU's stdout and stderr. */
  stderrLog: string;
  pidFile: string;
  /** Where a saved state streams through, out of QEMU (snapshot) or into it (restore). */
  migrationSocket: string;
}

const SHELL_SOCKET = 'shell.sock';

/** The shell socket of a recorded VM, which sits beside its agent socket; it exists only when QEMU was started with the port. */
export function shellSocketOf(vm: Pick<VmProcess, 'agentSocket'>): string {
  return join(dirname(vm.agentSocket), SHELL_SOCKET);
}

export function qemuVmFiles(vmDir: string): QemuVmFiles {
  return {
    qmpSocket: join(vmDir, 'qmp.sock'),
    agentSocket: join(vmDir, 'agent.sock'),
    shellSocket: join(vmDir, SHELL_SOCKET),
    consoleLog: join(vmDir, 'console.log'),
    stderrLog: join(vmDir, 'qemu.log'),
    pidFile: join(vmDir, 'qemu.pid'),
    migrationSocket: join(vmDir, 'migrate.sock'),
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
 * The full qemu-system-x86_64 command line for a VM. Pure: nothing is checked on disk.
 * A restore passes incoming and gets the same devices in the same order as a launch of the
 * same spec, which is what loading a saved state needs.
 */
export function qemuLaunchArgs(
  spec: LaunchSpec,
  accel: Acceleration,
  files: QemuVmFiles,
  options: { incoming?: boolean; translationCacheMiB?: number } = {},
): string[] {
  return qemuBootArgs({
    kernel: spec.kernel,
    initrd: spec.initrd,
    rootfs: spec.rootDisk,
    workDisk: spec.workDisk,
    memoryMiB: spec.memoryMiB,
    cpus: spec.cpus,
    agentSocket: files.agentSocket,
    shellSocket: spec.guestShell === false ? undefined : files.shellSocket,
    consoleLog: files.consoleLog,
    accel,
    hostForwards: spec.portForwards,
    kernelArgs: spec.kernelArgs,
    qmpSocket: files.qmpSocket,
    pidFile: files.pidFile,
    memoryFile: spec.memory,
    incoming: options.incoming,
    translationCacheMiB: options.translationCacheMiB,
  });
}
