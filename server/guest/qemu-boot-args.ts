import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { AGENT_PORT_NAME } from './agent-protocol.js';

export type Accel = 'kvm' | 'tcg';
export type MachineType = 'q35' | 'microvm';

export interface HostForward {
  hostPort: number;
  guestPort: number;
  /** Default 127.0.0.1: a forwarded guest port is not for the whole network. */
  hostAddress?: string;
  protocol?: 'tcp' | 'udp';
}

export interface QemuBootOptions {
  kernel: string;
  initrd: string;
  /** Root disk; the guest sees it as /dev/vda. */
  rootfs: string;
  /** Default: qcow2 for a .qcow2 file name, raw otherwise. */
  rootfsFormat?: 'qcow2' | 'raw';
  memoryMiB: number;
  cpus: number;
  /** Unix socket QEMU listens on for the guest agent's virtio-serial port. */
  agentSocket: string;
  /** The serial console is written here. */
  consoleLog: string;
  accel: Accel;
  /** Default q35: see docs/guest-agent.md for why. */
  machine?: MachineType;
  /**
   * Host TSC frequency for microvm under TCG (tsc_early_khz=): without it the guest
   * may hang calibrating the TSC against a PIT that a busy host emulates late.
   */
  tscKhz?: number;
  hostForwards?: HostForward[];
  /** Appended to the kernel command line, after banger's own parameters. */
  kernelArgs?: string[];
  /** QMP control socket (for a clean shutdown or queries), if wanted. */
  qmpSocket?: string;
  pidFile?: string;
}

/** QEMU's option parser splits on commas; a literal comma in a value is written twice. */
export function qemuOptionValue(value: string): string {
  return value.replace(/,/g, ',,');
}

function checkPort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${what} is not a port number: ${port}`);
}

function checkKernelArg(arg: string): void {
  if (arg === '' || /[\s"]/.test(arg)) throw new Error(`kernel argument must be one word without quotes: ${JSON.stringify(arg)}`);
}

/** The kernel command line banger boots guests with (before any extra kernelArgs). */
export function kernelCommandLine(options: Pick<QemuBootOptions, 'machine' | 'accel' | 'tscKhz' | 'kernelArgs'>): string {
  const args = [
    'console=ttyS0',
    'root=/dev/vda',
    'rw',
    // Any panic ends QEMU at once (with -no-reboot) instead of leaving a dead VM running.
    'panic=-1',
    // Keeps eth0 on q35, where systemd/udev images would otherwise pick enp0s…
    'net.ifnames=0',
  ];
  if ((options.machine ?? 'q35') === 'microvm') {
    if (options.accel === 'tcg') {
      if (options.tscKhz === undefined) throw new Error('microvm under TCG needs tscKhz (tsc_early_khz=) to boot reliably');
      if (!Number.isInteger(options.tscKhz) || options.tscKhz <= 0) throw new Error(`invalid tscKhz: ${options.tscKhz}`);
      args.push(`tsc_early_khz=${options.tscKhz}`);
    }
  }
  for (const arg of options.kernelArgs ?? []) {
    checkKernelArg(arg);
    args.push(arg);
  }
  return args.join(' ');
}

/**
 * Arguments for qemu-system-x86_64 that boot kernel + initrd with the root disk,
 * the serial console in a file, the agent's virtio-serial port on a unix socket
 * and user-mode networking. Pure: nothing is checked on disk.
 */
export function qemuBootArgs(options: QemuBootOptions): string[] {
  const machine = options.machine ?? 'q35';
  if (!Number.isInteger(options.memoryMiB) || options.memoryMiB < 64) throw new Error(`memoryMiB must be an integer ≥ 64: ${options.memoryMiB}`);
  if (!Number.isInteger(options.cpus) || options.cpus < 1) throw new Error(`cpus must be a positive integer: ${options.cpus}`);
  const format = options.rootfsFormat ?? (options.rootfs.endsWith('.qcow2') ? 'qcow2' : 'raw');
  // microvm has no PCI bus: its virtio devices sit on virtio-mmio.
  const virtio = (device: string): string => (machine === 'microvm' ? `virtio-${device}-device` : `virtio-${device}-pci`);

  const args = ['-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot'];
  if (machine === 'microvm') {
    // No option ROMs to load and no legacy devices beyond the serial port and RTC.
    args.push('-machine', 'microvm,x-option-roms=off,isa-serial=on,rtc=on');
  } else {
    args.push('-machine', 'q35');
  }
  if (options.accel === 'kvm') args.push('-accel', 'kvm', '-cpu', 'host');
  else args.push('-accel', 'tcg');
  args.push('-m', String(options.memoryMiB), '-smp', String(options.cpus));

  args.push('-kernel', options.kernel, '-initrd', options.initrd, '-append', kernelCommandLine(options));

  args.push('-chardev', `file,id=console,path=${qemuOptionValue(options.consoleLog)}`, '-serial', 'chardev:console');

  args.push(
    '-drive',
    `file=${qemuOptionValue(options.rootfs)},if=none,id=root,format=${format},discard=unmap`,
    '-device',
    `${virtio('blk')},drive=root`,
  );

  const forwards = (options.hostForwards ?? []).map((forward) => {
    checkPort(forward.hostPort, 'hostPort');
    checkPort(forward.guestPort, 'guestPort');
    const address = forward.hostAddress ?? '127.0.0.1';
    if (!/^[0-9A-Za-z.:]*$/.test(address)) throw new Error(`invalid host address: ${address}`);
    return `,hostfwd=${forward.protocol ?? 'tcp'}:${address}:${forward.hostPort}-:${forward.guestPort}`;
  });
  args.push('-netdev', `user,id=n0${forwards.join('')}`, '-device', `${virtio('net')},netdev=n0`);

  args.push(
    '-device',
    `${virtio('serial')},id=vser0`,
    '-chardev',
    `socket,id=agent,path=${qemuOptionValue(options.agentSocket)},server=on,wait=off`,
    '-device',
    `virtserialport,bus=vser0.0,chardev=agent,name=${AGENT_PORT_NAME}`,
  );

  if (options.qmpSocket !== undefined) args.push('-qmp', `unix:${qemuOptionValue(options.qmpSocket)},server=on,wait=off`);
  if (options.pidFile !== undefined) args.push('-pidfile', options.pidFile);
  return args;
}

/**
 * Whether QEMU can use KVM here. An openable /dev/kvm is not enough: a host that is
 * itself a guest may offer KVM through a paravirtual module (kvm_pvm) that only
 * runs specially built guest kernels, so a hardware module must be loaded too.
 */
export async function kvmUsable(): Promise<boolean> {
  try {
    await access('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return false;
  }
  const modules = await readFile('/proc/modules', 'utf8').catch(() => '');
  const loaded = new Set(modules.split('\n').map((line) => line.split(' ')[0]));
  if (loaded.has('kvm_intel') || loaded.has('kvm_amd')) return true;
  // Built into the kernel, the hardware modules still show up under /sys/module.
  for (const name of ['kvm_intel', 'kvm_amd']) {
    try {
      await access(`/sys/module/${name}`);
      return true;
    } catch {
      // not this one
    }
  }
  return false;
}

/** Host TSC frequency in kHz from the kernel's boot log line, for microvm's tsc_early_khz=. */
export function parseTscKhz(text: string): number | null {
  const match = /tsc: (?:Refined TSC clocksource calibration|Detected|Calibrated)[^0-9]*([0-9]+)\.([0-9]{3}) MHz/g;
  let found: number | null = null;
  for (const m of text.matchAll(match)) {
    if (m[1] && m[2]) found = Number(m[1]) * 1000 + Number(m[2]);
  }
  return found;
}
