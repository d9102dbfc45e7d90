import type { Acceleration, HypervisorName } from '../domain/vm.js';
import type { AgentTransport } from '../guest/agent-protocol.js';
import type { GuestMemory, MemoryUsage, SnapshotArtifacts, SnapshotCompatibility, SnapshotOptions, SnapshotSpec } from './snapshot.js';

/**
 * What the VM service needs from a hypervisor. QEMU implements it today and a
 * Firecracker driver will later, so nothing here names a QEMU concept: the
 * service works with paths, a pid, streams and outcomes, never with command
 * lines, disk formats or error texts. docs/architecture.md says what a new
 * driver must provide.
 */

export type { Acceleration, HypervisorName } from '../domain/vm.js';

export interface PortForward {
  /** Listens on 127.0.0.1: a published guest port is not for the whole network. */
  hostPort: number;
  guestPort: number;
}

export interface LaunchSpec {
  /** Owned by this VM; the driver puts its sockets, logs and pid file here. */
  vmDir: string;
  kernel: string;
  initrd: string;
  /** The disk the guest boots from (/dev/vda), made by prepareRootDisk. */
  rootDisk: string;
  /** Raw ext4 disk the guest mounts as /root (/dev/vdb). */
  workDisk: string;
  cpus: number;
  memoryMiB: number;
  portForwards: PortForward[];
  /** Appended to the driver's own kernel command line; one word each. */
  kernelArgs?: string[];
  /** Where guest RAM lives; default: anonymous memory of the hypervisor process. */
  memory?: GuestMemory;
  /**
   * The guest shell channel (SSH to the guest for exec and files); default true. A restore has it
   * only when its snapshot's source had it, since the device model must match the saved state.
   */
  guestShell?: boolean;
}

export interface RestoreSpec extends Omit<LaunchSpec, 'memory'> {
  snapshot: SnapshotArtifacts;
}

/**
 * Everything needed to find, query and stop a running VM, with nothing held in
 * memory: the daemon stores it and re-adopts the VM from it after a restart.
 */
export interface VmProcess {
  hypervisor: HypervisorName;
  pid: number;
  /** Start time of pid (/proc/<pid>/stat field 22): together they survive pid reuse. */
  startTime: string;
  accel: Acceleration;
  /** The hypervisor's control channel (QMP for QEMU, the API socket for Firecracker). */
  controlSocket: string;
  /** Unix socket of the guest agent channel (docs/guest-agent.md). */
  agentSocket: string;
  /** The guest's serial console output. */
  consoleLog: string;
  /** The hypervisor's own stdout and stderr. */
  stderrLog: string;
}

export interface LaunchOptions {
  signal?: AbortSignal;
  /**
   * Called as soon as the hypervisor process exists, before launch waits for it
   * to come up: record the identity here, so a daemon that dies mid-launch can
   * still find and kill the process after its restart. A throw aborts the launch.
   */
  onSpawn?: (vm: VmProcess) => void;
}

export interface RunningVm {
  process: VmProcess;
  /** Milliseconds from the launch call until the hypervisor accepted control requests. */
  launchMs: number;
}

/**
 * How stop ended: the guest shut itself down when asked, the hypervisor exited
 * on request (the guest did not), it had to be killed, or it was gone already.
 */
export type StopOutcome = 'powered-off' | 'quit' | 'killed' | 'already-gone';

export interface StopOptions {
  /** How long the guest gets to power off by itself before the hypervisor is told to quit. */
  graceMs: number;
}

export interface DiskOptions {
  signal?: AbortSignal;
}

export interface HypervisorDriver {
  readonly name: HypervisorName;
  /** Acceleration launches on this host get. */
  accel(): Promise<Acceleration>;
  /**
   * Where the VM's root disk lives in its VM dir. Its format is the driver's choice
   * (a qcow2 overlay for QEMU; Firecracker boots raw disks only).
   */
  rootDiskPath(vmDir: string): string;
  /**
   * Makes the VM's root disk at rootDiskPath(vmDir) from an image's raw ext4 rootfs,
   * which is only ever read. A failed attempt leaves no disk behind.
   */
  prepareRootDisk(imageRootfs: string, vmDir: string, options?: DiskOptions): Promise<string>;
  /**
   * Starts the VM in a process of its own that outlives the daemon, and returns
   * once the hypervisor is up (not the guest: see waitForGuestAgent). Throws
   * LaunchError when the hypervisor does not come up (PortConflictError when a host
   * port of a forward was taken); nothing is left running then.
   */
  launch(spec: LaunchSpec, options?: LaunchOptions): Promise<RunningVm>;
  /** Never signals a process whose pid and start time do not both match. */
  stop(vm: VmProcess, options: StopOptions): Promise<StopOutcome>;
  /** Whether the recorded process is still the hypervisor and has not exited. */
  isRunning(vm: VmProcess): boolean;
  /** SIGKILL of the recorded process (pid and start time must both match), waiting until it is gone. */
  kill(vm: VmProcess): Promise<void>;
  /**
   * Kills processes that still use vmDir but were never recorded, e.g. a hypervisor
   * whose launch a daemon crash cut short before its pid was stored. Returns how many.
   */
  killStrays(vmDir: string): Promise<number>;
  /** The stream to the VM's guest agent (docs/guest-agent.md). */
  agentTransport(vm: VmProcess): AgentTransport;
  /**
   * The stream to the port the guest's SSH server answers on once the agent's `shell` request
   * started it, or null when the VM's hypervisor was started without that port.
   */
  shellTransport(vm: VmProcess): AgentTransport | null;
  /** Stops the guest's vCPUs; memory, devices and port forwards stay. */
  pause(vm: VmProcess): Promise<void>;
  resume(vm: VmProcess): Promise<void>;
  /** Whether the guest's vCPUs are stopped (paused, or loaded from a snapshot and not yet resumed). */
  isPaused(vm: VmProcess): Promise<boolean>;
  /**
   * Whether the hypervisor stopped the guest because a write to one of its disks failed (a full
   * host filesystem); resume() retries the write and lets the guest go on.
   */
  isStoppedOnDiskError(vm: VmProcess): Promise<boolean>;
  /** The process's resident memory, and how much of it is guest RAM. */
  memoryUsage(vm: VmProcess): Promise<MemoryUsage>;
  /** CPU time the VM's process has used so far (user + system), or null once it is gone. */
  cpuTimeMs(vm: VmProcess): number | null;
  /** What a restore must match: binary version and machine type. */
  compatibility(): Promise<Pick<SnapshotCompatibility, 'hypervisor' | 'binaryVersion' | 'machine'>>;
  /**
   * Pauses the VM, saves its device and memory state into spec.dir and freezes its disks there;
   * then resumes it on new copy-on-write layers above the frozen ones, or stops it. A failure
   * leaves the VM as it was (running) and removes what it wrote.
   */
  snapshot(vm: VmProcess, spec: SnapshotSpec, options?: SnapshotOptions): Promise<SnapshotArtifacts>;
  /**
   * After a crash during snapshot() (the VM's process already stopped): the VM goes on from its new
   * layers when they exist, or its moved files go back to their places. Never removes the snapshot.
   */
  settleSnapshot(spec: SnapshotSpec): Promise<'went-on' | 'rolled-back'>;
  /** New disks for a VM restored from a snapshot: copy-on-write layers over its frozen ones, O(1). */
  cloneDisks(snapshot: SnapshotArtifacts, vmDir: string, options?: { signal?: AbortSignal }): Promise<{ rootDisk: string; workDisk: string }>;
  /**
   * Starts a VM from a snapshot's state instead of booting; returns once the state is loaded, with
   * the guest still paused (resume() lets it run). Throws LaunchError with the hypervisor's own
   * message when the state does not load; nothing is left running then.
   */
  restore(spec: RestoreSpec, options?: LaunchOptions): Promise<RunningVm>;
}

export class LaunchError extends Error {
  constructor(
    message: string,
    /** The hypervisor's own output, typically why it refused to start. */
    readonly stderrTail: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LaunchError';
  }
}

/** A forward's host port was taken by another program between its reservation and the launch. */
export class PortConflictError extends LaunchError {
  constructor(
    message: string,
    stderrTail: string,
    /** The host ports the hypervisor could not listen on. */
    readonly hostPorts: number[],
  ) {
    super(message, stderrTail);
    this.name = 'PortConflictError';
  }
}
