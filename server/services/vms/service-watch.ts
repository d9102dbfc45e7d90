import type { Logger } from 'pino';
import type { ImageRepository } from '../../db/repositories/images.js';
import type { VmRepository, VmRow } from '../../db/repositories/vms.js';
import type { ImageService } from '../../domain/image.js';
import type { HypervisorDriver } from '../../hypervisor/driver.js';
import { now } from '../ids.js';
import { exitedServicesMessage, queryGuestServices, serviceUp, type GuestServiceStatus } from './guest-services.js';
import type { VmSettings } from './vm-settings.js';
import type { VmService, VmState, VmStateReason } from './vm-view.js';

export interface ServiceWatchDeps {
  vms: VmRepository;
  images: ImageRepository;
  settings: Pick<VmSettings, 'servicePollMs'>;
  logger: Logger;
  driverOf(vm: VmRow): HypervisorDriver;
  setState(id: string, state: VmState, reason: Pick<VmStateReason, 'code' | 'message'>): void;
}

/** What the guest agent last said of a VM's services, during one boot of it. */
interface Observation {
  bootedAt: string | null;
  at: string;
  statuses: GuestServiceStatus[];
}

/** A GET right after another (or after the monitor's look) reuses its answer. */
const FRESH_MS = 1000;
const QUERY_TIMEOUT_MS = 3000;
export const SERVICE_EXITED = 'service_exited';

/**
 * Knows how the image services of running VMs are doing: asks their guest agents (at most one
 * question per VM at a time, since a virtio-serial port serves one client), keeps the answers in
 * memory, and puts services that exited into their VM's state reason.
 */
export class ServiceWatch {
  private readonly observed = new Map<string, Observation>();
  private readonly asking = new Map<string, Promise<Observation | undefined>>();
  private lastPoll = 0;
  private polling: Promise<void> | undefined;
  private changes = 0;

  constructor(private readonly deps: ServiceWatchDeps) {}

  /** Moves whenever what view() shows may have changed without a database write: an answer came or was dropped. */
  get version(): number {
    return this.changes;
  }

  /** The services as a view shows them, from what is known without asking the guest. */
  view(vm: VmRow, services: readonly ImageService[]): VmService[] {
    const observation = this.current(vm);
    return services.map((service) => {
      const status = observation?.statuses.find((entry) => entry.name === service.name);
      if (!status || !observation) {
        return { name: service.name, port: service.port, state: 'unknown', up: false, exitStatus: null, logTail: null, observedAt: observation?.at ?? null };
      }
      return {
        name: service.name,
        port: service.port,
        state: status.state,
        up: serviceUp(status),
        exitStatus: status.exitStatus,
        logTail: status.logTail,
        observedAt: observation.at,
      };
    });
  }

  /** Asks the guest now unless an answer is fresh; best effort: on no answer the last one stays. */
  async refresh(vm: VmRow): Promise<void> {
    const observation = this.current(vm);
    if (observation && Date.now() - Date.parse(observation.at) < FRESH_MS) return;
    await this.ask(vm);
  }

  /**
   * The monitor's look, every servicePollMs at most: running VMs whose image has services and no
   * job on them, all at once (each has its own port). Never awaited by the monitor, whose other
   * checks must not wait on slow guests; a look still going makes the next one a no-op.
   */
  poll(isBusy: (vmId: string) => boolean): void {
    if (this.polling || Date.now() - this.lastPoll < this.deps.settings.servicePollMs) return;
    this.lastPoll = Date.now();
    for (const vmId of this.observed.keys()) {
      if (this.deps.vms.get(vmId)?.state !== 'running' && this.observed.delete(vmId)) this.changes++;
    }
    const watched = this.deps.vms.withStates(['running']).filter((vm) => !isBusy(vm.id) && this.servicesOf(vm).length > 0);
    this.polling = Promise.all(
      watched.map(async (vm) => {
        const observation = await this.ask(vm);
        if (observation) this.reportExits(vm.id, observation);
      }),
    )
      .then(() => undefined)
      .catch((error: unknown) => this.deps.logger.error({ err: error }, 'the service watch failed'))
      .finally(() => (this.polling = undefined));
  }

  /** Waits for a look still going (daemon shutdown). */
  async settle(): Promise<void> {
    await this.polling;
  }

  servicesOf(vm: VmRow): readonly ImageService[] {
    return this.deps.images.findByIdOrName(vm.imageId)?.services ?? [];
  }

  private current(vm: VmRow): Observation | undefined {
    const observation = this.observed.get(vm.id);
    return observation && observation.bootedAt === vm.bootedAt && vm.state === 'running' ? observation : undefined;
  }

  private ask(vm: VmRow): Promise<Observation | undefined> {
    const pending = this.asking.get(vm.id);
    if (pending) return pending;
    const question = this.askGuest(vm).finally(() => this.asking.delete(vm.id));
    this.asking.set(vm.id, question);
    return question;
  }

  private async askGuest(vm: VmRow): Promise<Observation | undefined> {
    if (vm.state !== 'running' || !vm.process) return undefined;
    try {
      const statuses = await queryGuestServices(this.deps.driverOf(vm), vm.process, { timeoutMs: QUERY_TIMEOUT_MS });
      const observation = { bootedAt: vm.bootedAt, at: now(), statuses };
      this.observed.set(vm.id, observation);
      this.changes++;
      return observation;
    } catch (error) {
      this.deps.logger.debug({ err: error, vmId: vm.id }, 'the guest agent did not say how its services are');
      return undefined;
    }
  }

  /** A VM whose services exited says so in its state reason; it stays running. */
  private reportExits(vmId: string, observation: Observation): void {
    const vm = this.deps.vms.get(vmId);
    if (vm?.state !== 'running' || vm.bootedAt !== observation.bootedAt) return;
    const exited = observation.statuses.filter((status) => status.state === 'exited');
    if (exited.length === 0) return;
    const message = exitedServicesMessage(exited);
    if (vm.stateReason === SERVICE_EXITED && vm.stateMessage === message) return;
    this.deps.setState(vm.id, 'running', { code: SERVICE_EXITED, message });
    this.deps.logger.warn({ vmId: vm.id, name: vm.name, services: exited.map((status) => status.name) }, 'a service of the VM exited');
  }
}
