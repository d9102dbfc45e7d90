import { AGENT_PORT_NAME, SHELL_PORT_NAME } from '../../guest/agent-protocol.js';
import type { Acceleration } from '../driver.js';
import type { GuestMemory } from '../snapshot.js';
import { memoryBackendObject, RAM_BACKEND_ID } from './memory-backend.js';

/**
 * The qemu-system-x86_64 command line banger boots guests with: q35 (under TCG the
 * machine type that booted every time, docs/guest-agent.md), kernel + initrd, the
 * serial console in a file, virtio disks, user-mode networking with loopback-only
 * forwards, and the agent's virtio-serial port on a unix socket.
 */

export interface HostForward {
  hostPort: number;
  guestPort: number;
}

export interface QemuBootOptions {
  kernel: string;
  initrd: string;
  /** Root disk; the guest sees it as /dev/vda. Its format comes from its name (diskFormat). */
  rootfs: string;
  /** Optional second disk, the guest's /dev/vdb: the VM's work disk. */
  workDisk?: string;
  memoryMiB: number;
  cpus: number;
  /** Unix socket QEMU listens on for the guest agent's virtio-serial port. */
  agentSocket: string;
  /** Unix socket for the guest shell's virtio-serial port (SSH to the guest, for exec and files); none when absent. */
  shellSocket?: string;
  /** The serial console is written here. */
  consoleLog: string;
  accel: Acceleration;
  /** Published on 127.0.0.1 only: a forwarded guest port is not for the whole network. */
  hostForwards?: HostForward[];
  /** Appended to the kernel command line, after banger's own parameters. */
  kernelArgs?: string[];
  /** QMP control socket (for a clean shutdown or queries), if wanted. */
  qmpSocket?: string;
  pidFile?: string;
  /** Guest RAM in this file instead of anonymous memory. */
  memoryFile?: GuestMemory;
  /**
   * Wait for a saved state (QMP migrate-incoming) instead of booting, and stay paused once it
   * is loaded: QEMU 7.2 reports disks it could not take over only on stderr and then leaves the
   * guest stopped, while the caller's own `cont` gets that error back.
   */
  incoming?: boolean;
  /** TCG only: the translation cache's size in MiB (tb-size); QEMU's 1 GiB default when absent. */
  translationCacheMiB?: number;
}

const FORWARD_ADDRESS = '127.0.0.1';
/** The machine type every banger VM gets; a snapshot records it, and a restore must match it. */
export const QEMU_MACHINE = 'q35';

/** QEMU's option parser splits on commas; a literal comma in a value is written twice. */
export function qemuOptionValue(value: string): string {
  return value.replace(/,/g, ',,');
}

/**
 * A disk's format from its file name, never probed from its content: a guest could
 * write a qcow2 header into a raw disk and name a host file as its backing file.
 */
export function diskFormat(path: string): 'qcow2' | 'raw' {
  return path.endsWith('.qcow2') ? 'qcow2' : 'raw';
}

function checkPort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${what} is not a port number: ${port}`);
}

function checkKernelArg(arg: string): void {
  if (arg === '' || /[\s"]/.test(arg)) throw new Error(`kernel argument must be one word without quotes: ${JSON.stringify(arg)}`);
}

/** The kernel command line banger boots guests with, then any extra kernelArgs. */
export function kernelCommandLine(kernelArgs: readonly string[] = []): string {
  const args = [
    'console=ttyS0',
    'root=/dev/vda',
    'rw',
    // Any panic ends QEMU at once (with -no-reboot) instead of leaving a dead VM running.
    'panic=-1',
    // Keeps eth0 on q35, where systemd/udev images would otherwise pick enp0s…
    'net.ifnames=0',
  ];
  for (const arg of kernelArgs) {
    checkKernelArg(arg);
    args.push(arg);
  }
  return args.join(' ');
}

function driveArgs(id: string, path: string): string[] {
  return ['-drive', `file=${qemuOptionValue(path)},if=none,id=${id},format=${diskFormat(path)},discard=unmap`, '-device', `virtio-blk-pci,drive=${id}`];
}

/** Pure: nothing is checked on disk. */
export function qemuBootArgs(options: QemuBootOptions): string[] {
  if (!Number.isInteger(options.memoryMiB) || options.memoryMiB < 64) throw new Error(`memoryMiB must be an integer ≥ 64: ${options.memoryMiB}`);
  if (!Number.isInteger(options.cpus) || options.cpus < 1) throw new Error(`cpus must be a positive integer: ${options.cpus}`);

  const machine = options.memoryFile === undefined ? QEMU_MACHINE : `${QEMU_MACHINE},memory-backend=${RAM_BACKEND_ID}`;
  const args = ['-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot', '-machine', machine];
  if (options.accel === 'kvm') args.push('-accel', 'kvm', '-cpu', 'host');
  else args.push('-accel', options.translationCacheMiB === undefined ? 'tcg' : `tcg,tb-size=${options.translationCacheMiB}`);
  args.push('-m', String(options.memoryMiB), '-smp', String(options.cpus));
  if (options.memoryFile !== undefined) args.push('-object', memoryBackendObject(options.memoryFile, options.memoryMiB, qemuOptionValue));

  args.push('-kernel', options.kernel, '-initrd', options.initrd, '-append', kernelCommandLine(options.kernelArgs));

  args.push('-chardev', `file,id=console,path=${qemuOptionValue(options.consoleLog)}`, '-serial', 'chardev:console');

  // Devices are numbered on the PCI bus in command-line order, so the root disk is
  // probed first (/dev/vda) and the work disk second (/dev/vdb).
  args.push(...driveArgs('root', options.rootfs));
  if (options.workDisk !== undefined) args.push(...driveArgs('work', options.workDisk));

  const forwards = (options.hostForwards ?? []).map((forward) => {
    checkPort(forward.hostPort, 'hostPort');
    checkPort(forward.guestPort, 'guestPort');
    return `,hostfwd=tcp:${FORWARD_ADDRESS}:${forward.hostPort}-:${forward.guestPort}`;
  });
  args.push('-netdev', `user,id=n0${forwards.join('')}`, '-device', 'virtio-net-pci,netdev=n0');

  args.push(
    '-device',
    'virtio-serial-pci,id=vser0',
    '-chardev',
    `socket,id=agent,path=${qemuOptionValue(options.agentSocket)},server=on,wait=off`,
    '-device',
    `virtserialport,bus=vser0.0,chardev=agent,name=${AGENT_PORT_NAME}`,
  );
  if (options.shellSocket !== undefined) {
    args.push(
      '-chardev',
      `socket,id=shell,path=${qemuOptionValue(options.shellSocket)},server=on,wait=off`,
      '-device',
      `virtserialport,bus=vser0.0,chardev=shell,name=${SHELL_PORT_NAME}`,
    );
  }

  if (options.qmpSocket !== undefined) args.push('-qmp', `unix:${qemuOptionValue(options.qmpSocket)},server=on,wait=off`);
  if (options.pidFile !== undefined) args.push('-pidfile', options.pidFile);
  if (options.incoming === true) args.push('-incoming', 'defer', '-S');
  return args;
}

/**
 * Host ports QEMU could not forward, from its "could not set up host forwarding rule
 * 'tcp:127.0.0.1:PORT-:GUEST'" message; empty when the message is about something else.
 */
export function refusedHostForwards(stderr: string, requested: readonly number[]): number[] {
  if (!/host forwarding/i.test(stderr)) return [];
  const named = [...stderr.matchAll(/:(\d+)-/g)].map((match) => Number(match[1]));
  const found = requested.filter((port) => named.includes(port));
  // QEMU 7.2 names the rule; should a version not, every forward is suspect.
  return found.length > 0 ? found : [...requested];
}
