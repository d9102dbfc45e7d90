import { randomInt } from 'node:crypto';
import type { VmRepository } from '../../db/repositories/vms.js';
import { BangerError } from '../errors.js';
import { hostPortFree } from './port-probe.js';

export interface PortRequest {
  guestPort: number;
  wait: boolean;
}

export interface PortAllocation {
  guestPort: number;
  hostPort: number;
  wait: boolean;
}

const attemptsPerPort = 64;

/**
 * Host ports for a VM's forwards, reserved in the database: the unique host_port makes two VMs
 * (or two creates at once) unable to get the same one, and a port some other program already
 * listens on is skipped. Picks at random within the range, so that parallel daemons on one host
 * (tests do that) rarely try the same port.
 */
export class PortAllocator {
  constructor(
    private readonly vms: VmRepository,
    private readonly range: { first: number; last: number },
  ) {}

  async reserve(vmId: string, requests: PortRequest[]): Promise<PortAllocation[]> {
    const allocations: PortAllocation[] = [];
    try {
      for (const request of requests) allocations.push(await this.reserveOne(vmId, request));
    } catch (error) {
      for (const allocation of allocations) this.vms.releasePort(vmId, allocation.guestPort);
      throw error;
    }
    return allocations;
  }

  /** Gives the forward of one guest port a new host port (its old one is in use by someone else). */
  async replace(vmId: string, request: PortRequest): Promise<PortAllocation> {
    this.vms.releasePort(vmId, request.guestPort);
    return this.reserveOne(vmId, request);
  }

  private async reserveOne(vmId: string, request: PortRequest): Promise<PortAllocation> {
    const { first, last } = this.range;
    for (let attempt = 0; attempt < attemptsPerPort; attempt++) {
      const hostPort = randomInt(first, last + 1);
      if (this.vms.reservedHostPorts().has(hostPort)) continue;
      if (!(await hostPortFree(hostPort))) continue;
      // The check and the insert are separated by an await: the unique index settles any race.
      if (this.vms.reservePort({ vmId, guestPort: request.guestPort, hostPort, wait: request.wait })) {
        return { guestPort: request.guestPort, hostPort, wait: request.wait };
      }
    }
    throw new BangerError('vm-ports-exhausted', `No free host port for guest port ${request.guestPort} in ${first}-${last} after ${attemptsPerPort} tries`, {
      hint: 'delete VMs you no longer need, or widen BANGER_VM_PORT_RANGE',
    });
  }
}
