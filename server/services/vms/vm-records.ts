import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ImageRepository, ImageRow } from '../../db/repositories/images.js';
import type { JobRepository } from '../../db/repositories/jobs.js';
import type { VmRepository, VmRow } from '../../db/repositories/vms.js';
import type { SshIdentity } from '../../host/ssh-key.js';
import type { HypervisorDriver } from '../../hypervisor/driver.js';
import { HypervisorRegistry, HypervisorUnavailableError } from '../../hypervisor/registry.js';
import { BangerError } from '../errors.js';
import type { ImageService } from '../images/image-service.js';
import { now } from '../ids.js';
import type { JobService } from '../jobs/job-service.js';
import type { VmSettings } from './vm-settings.js';
import { vmView, type Vm, type VmState } from './vm-view.js';

/** What every part of the VM service works with. */
export interface VmDeps {
  vms: VmRepository;
  images: ImageRepository;
  imageService: ImageService;
  jobRecords: JobRepository;
  jobs: JobService;
  hypervisors: HypervisorRegistry;
  /** `<state-dir>/vms`: one dir per VM, plus the console logs of failed creates. */
  vmsDir: string;
  identity: SshIdentity;
  settings: VmSettings;
  logger: Logger;
}

/** Why a VM is in its state: a snake_case code and a sentence. */
export interface StateReason {
  code: string;
  message: string;
}

/** Reading and recording VM rows the same way everywhere: lookups with their problems, state changes, views. */
export class VmRecords {
  constructor(private readonly deps: VmDeps) {}

  /** By id first, then by name. */
  find(idOrName: string): VmRow {
    const vm = this.deps.vms.findByIdOrName(idOrName);
    if (!vm) throw new BangerError('vm-not-found', `No VM with id or name "${idOrName}"`, { hint: 'list VMs with GET /vms (banger vm ls)' });
    return vm;
  }

  require(id: string): VmRow {
    const vm = this.deps.vms.get(id);
    if (!vm) throw new BangerError('vm-not-found', `VM ${id} no longer exists`, { hint: 'list VMs with GET /vms' });
    return vm;
  }

  requireImage(imageId: string): ImageRow {
    const image = this.deps.images.findByIdOrName(imageId);
    if (!image) throw new BangerError('image-not-found', `The VM's image ${imageId} no longer exists`, { hint: 'create the VM from another image' });
    return image;
  }

  /** The driver that runs (or ran) this VM: the one recorded on its row, never the default. */
  driverOf(vm: Pick<VmRow, 'name' | 'hypervisor'>): HypervisorDriver {
    try {
      return this.deps.hypervisors.get(vm.hypervisor);
    } catch (error) {
      if (!(error instanceof HypervisorUnavailableError)) throw error;
      throw new BangerError('hypervisor-unavailable', `VM ${vm.name} runs on ${vm.hypervisor}, which this daemon cannot drive: ${error.message}`, {
        hint: 'start the daemon on a host with that hypervisor, or delete the VM',
        cause: error,
      });
    }
  }

  vmDir(vm: Pick<VmRow, 'id' | 'vmDir'>): string {
    return vm.vmDir ?? join(this.deps.vmsDir, vm.id);
  }

  setState(id: string, state: VmState, reason: StateReason | null, fields: Partial<VmRow> = {}): void {
    const timestamp = now();
    this.deps.vms.update(id, {
      ...fields,
      state,
      stateReason: reason?.code ?? null,
      stateMessage: reason?.message ?? null,
      stateChangedAt: timestamp,
      updatedAt: timestamp,
    });
  }

  /** Where a failed create's console log is kept once its VM dir is gone. */
  preservedConsolePath(id: string): string {
    return join(this.deps.vmsDir, `${id}.console.log`);
  }

  preservedConsoleIfAny(id: string): string | null {
    const path = this.preservedConsolePath(id);
    return existsSync(path) ? path : null;
  }

  get(id: string): Vm {
    return this.view(this.require(id));
  }

  view(row: VmRow): Vm {
    return this.views([row])[0] as Vm;
  }

  views(rows: VmRow[]): Vm[] {
    const ports = this.deps.vms.portsOfMany(rows.map((row) => row.id));
    const imageNames = new Map<string, string | null>();
    for (const row of rows) {
      if (!imageNames.has(row.imageId)) imageNames.set(row.imageId, this.deps.images.findByIdOrName(row.imageId)?.name ?? null);
    }
    return rows.map((row) =>
      vmView(row, imageNames.get(row.imageId) ?? null, ports.filter((port) => port.vmId === row.id), this.deps.identity.privateKeyPath),
    );
  }
}
