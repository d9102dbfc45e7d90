import { join } from 'node:path';
import { qemuBootArgs } from './boot-args.js';
import type { Acceleration, LaunchSpec } from '../driver.js';

/** Where a QEMU VM keeps its runtime files inside its VM dir. */
export interface QemuVmFiles {
  qmpSocket: string;
  agentSocket: string;
  consoleLog: string;
  /** QEMU's stdout and stderr. */
  stderrLog: string;
  pidFile: string;
  /** Where a saved state streams through, out of QEMU (snapshot) or into it (restore). */
  migrationSocket: string;
}

export function qemuVmFiles(vmDir: string): QemuVmFiles {
  return {
    qmpSocket: join(vmDir, 'qmp.sock'),
    agentSocket: join(vmDir, 'agent.sock'),
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
