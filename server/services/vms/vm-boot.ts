import { queryAgent, type AgentHealth } from '../../guest/agent-protocol.js';
import { BootFailureError, classifyBootFailure, type BootEvidence, type BootFailureKind } from '../../hypervisor/boot-failure.js';
import { collectBootEvidence, waitForGuestAgent } from '../../hypervisor/boot-wait.js';
import { LaunchError, PortConflictError, type HypervisorDriver, type LaunchSpec, type PortForward, type RunningVm, type VmProcess } from '../../hypervisor/driver.js';
import { lastLines } from '../../hypervisor/log-tail.js';
import { BangerError, type ProblemCode } from '../errors.js';
import type { PhaseClock } from './phase-clock.js';
import type { BootStage } from './vm-jobs.js';
import type { PortAllocation } from './port-allocator.js';
import { probeTcpPort, type ProbeOutcome } from './port-probe.js';
import { hostAddress } from './vm-view.js';
import type { ImageService } from '../../domain/image.js';
import { exitedServicesMessage, queryGuestServices } from './guest-services.js';

export interface BootOptions extends Pick<PortWaitOptions, 'services'> {
  driver: HypervisorDriver;
  /** Everything but the port forwards, which come from `ports`. */
  spec: Omit<LaunchSpec, 'portForwards'>;
  ports: PortAllocation[];
  clock: PhaseClock<BootStage>;
  signal: AbortSignal;
  agentTimeoutMs: number;
  portTimeoutMs: number;
  /** Called the moment the hypervisor runs, so that its pid is on record before any wait. */
  onLaunched(process: VmProcess): void;
  /** A new host port for a forward the hypervisor could not open (someone else took the port). */
  reallocate(allocation: PortAllocation): Promise<PortAllocation>;
}

export interface BootResult {
  process: VmProcess;
  ports: PortAllocation[];
}

/** Why a boot failed, with what the guest and the hypervisor left behind. */
export class VmBootFailure extends Error {
  constructor(
    readonly kind: BootFailureKind,
    message: string,
    readonly evidence: BootEvidence,
  ) {
    super(message);
    this.name = 'VmBootFailure';
  }
}

const launchAttempts = 3;
const probeRoundMs = 250;

/**
 * spawn → kernel_boot (until the first console output) → agent_ready (until the guest agent
 * answers) → ports_ready (until every waited-for port really serves). The caller owns the
 * process from onLaunched on and cleans up when this throws.
 */
export async function bootVm(options: BootOptions): Promise<BootResult> {
  const { driver, clock, signal } = options;
  let ports: PortAllocation[];

  clock.enter('spawn', `${driver.name}, ${options.spec.cpus} vCPU, ${options.spec.memoryMiB} MiB`);
  const launched = await launchPublishing((portForwards) => driver.launch({ ...options.spec, portForwards }, { signal }), options);
  const process = launched.process;
  ports = launched.ports;
  options.onLaunched(process);

  clock.enter('kernel_boot', `pid ${process.pid}, ${process.accel}`);
  let health: AgentHealth;
  try {
    health = await waitForGuestAgent(driver, process, {
      timeoutMs: options.agentTimeoutMs,
      signal,
      onConsoleOutput: () => clock.enter('agent_ready'),
    });
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    if (error instanceof BootFailureError) throw new VmBootFailure(error.kind, error.message, error.evidence);
    throw error;
  }
  // A guest that answered before its console showed anything still went through both phases.
  if (!clock.has('agent_ready')) clock.enter('agent_ready');

  await waitForPublishedPorts(driver, process, ports, clock, { ...options, hasAddress: health.addresses.length > 0 });
  return { process, ports };
}

export interface LaunchPublishingOptions {
  ports: PortAllocation[];
  signal: AbortSignal;
  reallocate(allocation: PortAllocation): Promise<PortAllocation>;
}

/**
 * Runs a launch with the ports' forwards; when another program took a reserved host port between
 * the reservation and the launch, reallocates those ports and launches again. Other failures are
 * hypervisor_exited boot failures.
 */
export async function launchPublishing(
  launch: (forwards: PortForward[]) => Promise<RunningVm>,
  options: LaunchPublishingOptions,
): Promise<{ process: VmProcess; ports: PortAllocation[] }> {
  const { signal } = options;
  let ports = options.ports;
  for (let attempt = 1; ; attempt++) {
    try {
      const running = await launch(ports.map(({ hostPort, guestPort }) => ({ hostPort, guestPort })));
      return { process: running.process, ports };
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (!(error instanceof LaunchError)) throw error;
      const taken = error instanceof PortConflictError ? ports.filter((port) => error.hostPorts.includes(port.hostPort)) : [];
      if (taken.length === 0 || attempt >= launchAttempts) {
        throw new VmBootFailure('hypervisor_exited', `the hypervisor did not start: ${error.message}`, { consoleTail: '', exited: true, stderrTail: error.stderrTail });
      }
      const replaced = new Map<number, PortAllocation>();
      for (const allocation of taken) replaced.set(allocation.guestPort, await options.reallocate(allocation));
      ports = ports.map((allocation) => replaced.get(allocation.guestPort) ?? allocation);
    }
  }
}

/** ports_ready: every port the request waits for accepts a connection from the host (or the stage is skipped). */
export async function waitForPublishedPorts(
  driver: HypervisorDriver,
  process: VmProcess,
  ports: PortAllocation[],
  clock: PhaseClock<'ports_ready'>,
  options: PortWaitOptions & { hasAddress: boolean },
): Promise<void> {
  const waited = ports.filter((port) => port.wait);
  if (waited.length === 0) {
    clock.skip('ports_ready', 'no guest ports to wait for');
    return;
  }
  clock.enter('ports_ready', waited.map((port) => `${port.guestPort}→${hostAddress}:${port.hostPort}`).join(', '));
  await waitForGuestPorts(driver, process, waited, options, options.hasAddress);
}

export interface PortWaitOptions {
  signal: AbortSignal;
  portTimeoutMs: number;
  /** How long a silent forwarded connection must stay up to count (port-probe.ts). */
  holdMs?: number;
  /** The image's services: one whose port is waited for and that exits ends the wait at once, with its log. */
  services?: readonly ImageService[];
  /**
   * Guest ports the guest itself says it listens on (a restored guest's agent reports them):
   * for these an accepted connection through the forward is enough, with no hold.
   */
  listeningGuestPorts?: ReadonlySet<number>;
}

async function waitForGuestPorts(
  driver: HypervisorDriver,
  vm: VmProcess,
  waited: PortAllocation[],
  options: PortWaitOptions,
  hasAddress: boolean,
): Promise<void> {
  const { signal } = options;
  const deadline = Date.now() + options.portTimeoutMs;
  // Through a user-mode NAT a guest without an address yet looks like a silent, open port.
  if (!hasAddress) await waitForGuestAddress(driver, vm, deadline, signal);

  const pending = new Map(waited.map((port) => [port.hostPort, port]));
  const last = new Map<number, ProbeOutcome>();
  let servicesAskedAt = Date.now();
  for (;;) {
    if (signal.aborted) throw signal.reason;
    if (!driver.isRunning(vm)) {
      const evidence = await collectBootEvidence(driver, vm);
      const kind = classifyBootFailure(evidence);
      throw new VmBootFailure(kind, new BootFailureError(kind, evidence).message, evidence);
    }
    if (Date.now() - servicesAskedAt >= serviceCheckMs) {
      servicesAskedAt = Date.now();
      await throwIfServiceExited(driver, vm, [...pending.values()], options);
    }
    const round = await Promise.all(
      [...pending.entries()].map(async ([hostPort, port]) => {
        const holdMs = options.listeningGuestPorts?.has(port.guestPort) ? 0 : options.holdMs;
        return [hostPort, await probeTcpPort(hostPort, { signal, holdMs })] as const;
      }),
    );
    for (const [hostPort, outcome] of round) {
      last.set(hostPort, outcome);
      if (outcome === 'open') pending.delete(hostPort);
    }
    if (pending.size === 0) return;
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, probeRoundMs));
  }
  if (signal.aborted) throw signal.reason;
  await throwIfServiceExited(driver, vm, [...pending.values()], options);
  const evidence = await collectBootEvidence(driver, vm);
  const closed = [...pending.values()].map((port) => `${port.guestPort} (host ${port.hostPort}: ${describeOutcome(last.get(port.hostPort))})`);
  throw new VmBootFailure(
    'port_timeout',
    `guest port${closed.length > 1 ? 's' : ''} ${closed.join(', ')} did not accept connections within ${Math.round(options.portTimeoutMs / 1000)} s after the agent answered`,
    evidence,
  );
}

const serviceCheckMs = 2000;

/** Ends a port wait whose port belongs to a service that already exited: it will not open. */
async function throwIfServiceExited(driver: HypervisorDriver, vm: VmProcess, pending: PortAllocation[], options: PortWaitOptions): Promise<void> {
  const services = (options.services ?? []).filter((service) => pending.some((port) => port.guestPort === service.port));
  if (services.length === 0) return;
  const statuses = await queryGuestServices(driver, vm, { timeoutMs: serviceCheckMs, signal: options.signal }).catch(() => []);
  const exited = statuses.filter((status) => status.state === 'exited' && services.some((service) => service.name === status.name));
  if (exited.length === 0) return;
  const evidence = await collectBootEvidence(driver, vm);
  throw new VmBootFailure('service_exited', exitedServicesMessage(exited), evidence);
}

function describeOutcome(outcome: ProbeOutcome | undefined): string {
  switch (outcome) {
    case 'closed':
      return 'the guest refused the connection';
    case 'refused':
      return 'nothing listened on the host port';
    case 'timeout':
      return 'the connection attempt timed out';
    default:
      return 'never probed';
  }
}

async function waitForGuestAddress(driver: HypervisorDriver, vm: VmProcess, deadline: number, signal: AbortSignal): Promise<void> {
  while (Date.now() < deadline) {
    if (signal.aborted) throw signal.reason;
    try {
      const health = await queryAgent(driver.agentTransport(vm), { command: 'health', timeoutMs: Math.max(1000, Math.min(5000, deadline - Date.now())), signal });
      if (health.addresses.length > 0) return;
    } catch {
      if (signal.aborted) throw signal.reason;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const failureCodes: Record<BootFailureKind, ProblemCode> = {
  kernel_panic: 'kernel-panic',
  hypervisor_exited: 'hypervisor-exited',
  agent_timeout: 'agent-timeout',
  port_timeout: 'port-timeout',
  service_exited: 'service-exited',
};

const failureHints: Record<BootFailureKind, string> = {
  kernel_panic: "the image's kernel or initrd cannot boot its disk: check the console lines above, or rebuild the image",
  hypervisor_exited: 'the hypervisor said why above; check the image files and the host (memory, /dev/kvm permissions)',
  agent_timeout:
    'the guest booted too slowly or its agent is not running: read the console lines above; on a slow host raise BANGER_VM_BOOT_TIMEOUT_SECONDS',
  port_timeout: 'start the service in the guest (or drop the port from the request); on a slow host raise BANGER_VM_PORT_TIMEOUT_SECONDS',
  service_exited: "the service's log lines above say why it stopped; fix its command and rebuild the image",
};

/** The job problem for a failed boot: the class as its code, the evidence lines in its detail. */
export function bootProblem(vmName: string, failure: VmBootFailure, logPath: string | undefined): BangerError {
  const parts = [`VM ${vmName} failed to boot (${failure.kind}): ${failure.message}`];
  const stderr = lastLines(failure.evidence.stderrTail, 10).trim();
  if (failure.kind === 'hypervisor_exited' && stderr !== '') parts.push(`--- hypervisor output ---\n${stderr}`);
  const consoleTail = lastLines(failure.evidence.consoleTail, 20).trimEnd();
  parts.push(consoleTail.trim() === '' ? '--- the guest wrote nothing to its console ---' : `--- last console lines ---\n${consoleTail}`);
  return new BangerError(failureCodes[failure.kind], parts.join('\n'), { hint: failureHints[failure.kind], logPath });
}
