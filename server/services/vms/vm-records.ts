import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ImageRepository, ImageRow } from '../../db/repositories/images.js';
import type { JobRepository } from '../../db/repositories/jobs.js';
import type { VmPortRow, VmRepository, VmRow } from '../../db/repositories/vms.js';
import type { SshIdentity } from '../../host/ssh-key.js';
import type { HypervisorDriver, LaunchSpec, VmProcess } from '../../hypervisor/driver.js';
import { HypervisorRegistry, HypervisorUnavailableError } from '../../hypervisor/registry.js';
import { BangerError, type FieldError } from '../errors.js';
import type { ImageService } from '../images/image-service.js';
import { now } from '../ids.js';
import type { JobService } from '../jobs/job-service.js';
import type { PhaseClock } from './phase-clock.js';
import { countsAgainstMaxVms, vmLimitProblem } from './vm-limits.js';
import { generatedVmName } from './vm-request.js';
import type { VmSettings } from './vm-settings.js';
import { ServiceWatch } from './service-watch.js';
import { vmView, type Vm, type VmState } from './vm-view.js';
import type { StorageGuard } from '../storage/storage-guard.js';
import type { BootMode } from '../../domain/snapshot.js';

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
  /** Refuses new VMs on a nearly full disk, and makes room for stops and deletes. */
  storage: StorageGuard;
  logger: Logger;
  /** Hears the phase timings (ms, and their total) of every boot or restore that reached running. */
  onBooted?: (timings: Readonly<Record<string, number>>, mode: BootMode) => void;
}

/** Why a VM is in its state: a snake_case code and a sentence. */
export interface StateReason {
  code: string;
  message: string;
}

/** Reading and recording VM rows the same way everywhere: lookups with their problems, state changes, views. */
export class VmRecords {
  /** How the image services of running VMs are doing. */
  readonly services: ServiceWatch;

  constructor(private readonly deps: VmDeps) {
    this.services = new ServiceWatch({ ...deps, driverOf: (vm) => this.driverOf(vm), setState: (id, state, reason) => this.setState(id, state, reason) });
  }

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

  /**
   * The name a new VM gets (generated when none is asked for), once it is free and the VM limits
   * leave room: BANGER_MAX_VM_RECORDS always, BANGER_MAX_VMS when it will run. Synchronous, so that
   * the caller can insert the row before anything else runs.
   */
  admitNewVm(requested: string | undefined, options: { start: boolean } = { start: true }): string {
    const { vms } = this.deps;
    const name = requested ?? this.freeGeneratedName();
    const holder = vms.findByName(name);
    // A failed create's VM (no process, its files gone) gives its name up to the next create: a retry is never stuck on it.
    const replaced = holder && this.replaceable(holder) ? holder : undefined;
    if (holder && !replaced) {
      throw new BangerError('vm-name-taken', `A VM named ${name} already exists (${holder.state})`, { hint: `pick another name, or delete it first: banger vm rm ${name}` });
    }
    this.checkLimits({ record: true, run: options.start }, replaced ? 1 : 0);
    if (replaced) this.removeFailed(replaced, `its name was taken by a new create`);
    return name;
  }

  /** A failed create's VM that no job is working on: nothing of it is left but its row and kept console log. */
  private replaceable(vm: VmRow): boolean {
    return vm.state === 'failed' && vm.process === null && this.deps.jobRecords.activeFor('vm', vm.id) === undefined;
  }

  /**
   * Removes a failed create's VM at once (its row, by cascade its ports, and its kept console log):
   * synchronous, so that admitNewVm can replace it in the step that admits the new name.
   */
  removeFailed(vm: VmRow, why: string): void {
    rmSync(this.preservedConsolePath(vm.id), { force: true });
    this.deps.vms.delete(vm.id);
    this.deps.logger.info({ vmId: vm.id, name: vm.name, failedAt: vm.stateChangedAt }, `failed vm removed: ${why}`);
  }

  /** Throws vm-limit-reached unless BANGER_MAX_VMS leaves room for one more VM that runs (a start). Synchronous, like admitNewVm. */
  admitStart(): void {
    this.checkLimits({ record: false, run: true });
  }

  /** `replacing`: rows the admission removes (failed VMs, which never count as running). */
  private checkLimits(adding: { record: boolean; run: boolean }, replacing = 0): void {
    const { settings, vms } = this.deps;
    const counts = {
      records: adding.record ? vms.countAll() - replacing : 0,
      running: adding.run ? vms.withStates(['creating', 'starting', 'running', 'paused', 'stopping', 'deleting']).filter(countsAgainstMaxVms).length : 0,
    };
    const problem = vmLimitProblem(counts, settings, adding);
    if (problem) throw problem;
  }

  private freeGeneratedName(): string {
    for (;;) {
      const name = generatedVmName();
      if (!this.deps.vms.findByName(name)) return name;
    }
  }

  /** What any VM of the image needs to boot cold: its files (a restored VM may cold-start later). */
  requireBootable(image: ImageRow): void {
    const errors: FieldError[] = [];
    const hint = `rebuild it (banger image build ${image.name} …) or register it again with the missing files`;
    if (!image.initrdPath) errors.push({ field: 'initrdPath', message: 'the image has no initrd', hint });
    if (!image.workSeedPath) errors.push({ field: 'workSeedPath', message: 'the image has no work seed (it carries the SSH key)', hint });
    const files: Array<[string, string | null]> = [
      ['rootfsPath', image.rootfsPath],
      ['kernelPath', image.kernelPath],
      ['initrdPath', image.initrdPath],
      ['workSeedPath', image.workSeedPath],
    ];
    for (const [field, path] of files) {
      if (path && !existsSync(path)) errors.push({ field, message: `${path} does not exist`, hint });
    }
    if (errors.length > 0) {
      throw new BangerError('image-not-bootable', `Image ${image.name} cannot boot a VM: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`, {
        errors,
        hint,
      });
    }
  }

  /** The VM's current disks: as recorded, or where VMs made before they were recorded keep them. */
  disksOf(vm: VmRow): { rootDisk: string; workDisk: string } {
    if (vm.disks) return vm.disks;
    const vmDir = this.vmDir(vm);
    return { rootDisk: this.driverOf(vm).rootDiskPath(vmDir), workDisk: join(vmDir, 'work.ext4') };
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

  /** What a boot and a restore launch alike: the image's kernel, the VM's disks, size and name. */
  launchBase(vm: VmRow, image: ImageRow, disks: { vmDir: string; rootDisk: string; workDisk: string }): Omit<LaunchSpec, 'portForwards' | 'memory'> {
    return {
      vmDir: disks.vmDir,
      kernel: image.kernelPath,
      initrd: image.initrdPath as string,
      rootDisk: disks.rootDisk,
      workDisk: disks.workDisk,
      cpus: vm.cpus,
      memoryMiB: vm.memoryMib,
      kernelArgs: [`banger.hostname=${vm.name}`],
    };
  }

  /** The hypervisor process as soon as it exists: what recovery after a crash needs to find it. */
  recordProcess(id: string, process: VmProcess): void {
    this.deps.vms.update(id, { process, accel: process.accel, consoleLog: process.consoleLog, updatedAt: now() });
  }

  /** The end of a boot or restore: timings closed, state running, one log line. */
  markRunning(id: string, clock: PhaseClock<'running'>, bootMode: BootMode, logFields: Record<string, unknown> = {}): void {
    const timings = clock.finish();
    clock.enter('running');
    this.setState(id, 'running', null, { timings, bootedAt: now(), bootMode });
    const vm = this.require(id);
    this.deps.logger.info({ vmId: id, name: vm.name, ...logFields, timings }, bootMode === 'warm' ? 'vm restored and running' : 'vm running');
    this.deps.onBooted?.(timings, bootMode);
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

  /** The views of a page of VMs: one query for their ports and one for their images, whatever the page's size. */
  views(rows: VmRow[]): Vm[] {
    if (rows.length === 0) return [];
    const ports = new Map<string, VmPortRow[]>();
    for (const port of this.deps.vms.portsOfMany(rows.map((row) => row.id))) {
      const ofVm = ports.get(port.vmId);
      if (ofVm) ofVm.push(port);
      else ports.set(port.vmId, [port]);
    }
    // A VM's imageId is an image's id (a foreign key), never a name.
    const images = new Map(this.deps.images.summariesOf([...new Set(rows.map((row) => row.imageId))]).map((image) => [image.id, image]));
    return rows.map((row) => {
      const image = images.get(row.imageId);
      return vmView(row, {
        imageName: image?.name ?? null,
        ports: ports.get(row.id) ?? [],
        services: this.services.view(row, image?.services ?? []),
        sshPrivateKeyPath: this.deps.identity.privateKeyPath,
      });
    });
  }
}
