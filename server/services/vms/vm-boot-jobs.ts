import { existsSync } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import type { ImageRow } from '../../db/repositories/images.js';
import type { VmRow } from '../../db/repositories/vms.js';
import { createWorkDisk } from '../../host/disks.js';
import { BangerError } from '../errors.js';
import { formatSize } from '../../domain/byte-size.js';
import { now } from '../ids.js';
import type { StageOf } from '../jobs/job-kind.js';
import type { JobContext } from '../jobs/types.js';
import { KeyedLock } from './keyed-lock.js';
import { PhaseClock } from './phase-clock.js';
import type { PortAllocation, PortAllocator, PortRequest } from './port-allocator.js';
import { hostPortFree } from './port-probe.js';
import { bootProblem, bootVm, VmBootFailure } from './vm-boot.js';
import { bootStages, type BootStage, type vmCreateJob } from './vm-jobs.js';
import { createdStoppedReason } from './vm-limits.js';
import type { StateReason, VmDeps, VmRecords } from './vm-records.js';
import type { VmTeardown } from './vm-teardown.js';
import type { Vm } from './vm-view.js';

interface VmDisks {
  vmDir: string;
  rootDisk: string;
  workDisk: string;
}

/**
 * The work of create, start and restart jobs: disks, ports, the boot through the VM's
 * driver, and what a failure leaves (a failed create keeps only its row and console log;
 * a failed start keeps its disks and is stopped again).
 */
export class VmBootJobs {
  private readonly imageLocks = new KeyedLock();

  constructor(
    private readonly deps: VmDeps,
    private readonly records: VmRecords,
    private readonly teardown: VmTeardown,
    private readonly ports: PortAllocator,
  ) {}

  /** The create job of an image boot; with `start: false` it ends after the disks and port reservations, the VM stopped. */
  async create(id: string, imageId: string, portRequests: PortRequest[], context: JobContext<StageOf<typeof vmCreateJob>>, options: { start: boolean } = { start: true }): Promise<{ vm: Vm }> {
    const clock = new PhaseClock(context);
    const { signal } = context;
    try {
      const vm = this.records.require(id);
      const driver = this.records.driverOf(vm);
      const disks = this.disksOf(vm);

      let image = this.records.requireImage(imageId);
      const stale = image.workSeedPath !== null && image.seededSshPublicKeyFingerprint !== this.deps.identity.fingerprint;
      clock.enter('validate', stale ? `image ${image.name}: re-seeding its work seed with the daemon's SSH key` : `image ${image.name}`);
      image = await this.imageLocks.with(image.id, () => this.healSeed(image.id));
      await this.requireImageFiles(image);

      clock.enter('clone_disks', disks.rootDisk);
      await mkdir(disks.vmDir, { recursive: true, mode: 0o750 });
      this.deps.vms.update(id, { vmDir: disks.vmDir, updatedAt: now() });
      await driver.prepareRootDisk(image.rootfsPath, disks.vmDir, { signal });
      this.deps.vms.update(id, { disks: { rootDisk: disks.rootDisk, workDisk: disks.workDisk }, updatedAt: now() });

      clock.enter('seed_work_disk', `${formatSize(vm.workDiskBytes)} from ${image.workSeedPath}`);
      await this.imageLocks.with(image.id, () => createWorkDisk(image.workSeedPath as string, disks.workDisk, vm.workDiskBytes, { signal }));

      clock.enter('allocate_network', portRequests.map((port) => `guest ${port.guestPort}`).join(', '));
      const ports = await this.ports.reserve(id, portRequests);

      if (!options.start) {
        // Like a stopped VM: disks and port reservations kept, for POST /vms/{id}/start to boot.
        for (const stage of bootStages) clock.skip(stage, 'start: false');
        this.records.setState(id, 'stopped', createdStoppedReason('stopped'), { process: null, timings: clock.finish() });
        this.deps.logger.info({ vmId: id, name: vm.name }, 'vm created without starting');
        return { vm: this.records.get(id) };
      }
      await this.boot(id, clock, context, ports, image, disks);
      return { vm: this.records.get(id) };
    } catch (error) {
      throw await this.failCreate(id, error, signal);
    }
  }

  /** validate → spawn … running for a VM whose disks exist (start, restart). */
  async bootExisting(id: string, clock: PhaseClock<'validate' | BootStage>, context: Pick<JobContext, 'signal'>): Promise<{ vm: Vm }> {
    try {
      const vm = this.records.require(id);
      clock.enter('validate', 'disks, image files and host ports');
      const image = this.records.requireImage(vm.imageId);
      await this.requireImageFiles(image);
      const disks = this.disksOf(vm);
      const missing = [disks.rootDisk, disks.workDisk].filter((path) => !existsSync(path));
      if (missing.length > 0) {
        throw new BangerError('preflight-failed', `VM ${vm.name} cannot start: its disk ${missing.join(' and ')} is missing`, {
          errors: missing.map((path) => ({ field: 'disk', message: `${path} is missing` })),
          hint: `delete the VM and create it again: banger vm rm ${vm.name}`,
        });
      }
      const ports: PortAllocation[] = [];
      for (const port of this.deps.vms.portsOf(id)) {
        const request = { guestPort: port.guestPort, wait: port.wait };
        ports.push((await hostPortFree(port.hostPort)) ? { ...request, hostPort: port.hostPort } : await this.ports.replace(id, request));
      }
      await this.boot(id, clock, context, ports, image, disks);
      return { vm: this.records.get(id) };
    } catch (error) {
      throw await this.failBoot(id, error, context.signal);
    }
  }

  private disksOf(vm: VmRow): VmDisks {
    return { vmDir: this.records.vmDir(vm), ...this.records.disksOf(vm) };
  }

  private async boot(id: string, clock: PhaseClock<BootStage>, context: Pick<JobContext, 'signal'>, ports: PortAllocation[], image: ImageRow, disks: VmDisks): Promise<void> {
    const vm = this.records.require(id);
    const { settings } = this.deps;
    await bootVm({
      driver: this.records.driverOf(vm),
      spec: { ...this.records.launchBase(vm, image, disks), memory: vm.memoryFile ? { file: vm.memoryFile, shared: true } : undefined },
      ports,
      clock,
      signal: context.signal,
      agentTimeoutMs: settings.agentTimeoutMs,
      portTimeoutMs: settings.portTimeoutMs,
      services: image.services,
      onLaunched: (process) => this.records.recordProcess(id, process),
      reallocate: (allocation) => this.ports.replace(id, allocation),
    });
    this.records.markRunning(id, clock, 'cold');
  }

  /** A create that failed, was cancelled or interrupted: nothing of it may remain but the row and its console log. */
  async failCreate(id: string, error: unknown, signal: AbortSignal): Promise<unknown> {
    const vm = this.deps.vms.get(id);
    if (!vm) return error;
    const reason = failureReason(error, signal);
    try {
      await this.teardown.teardown(vm, { preserveConsole: true });
    } catch (cleanupError) {
      this.deps.logger.error({ err: cleanupError, vmId: id }, 'cleanup after a failed create failed');
    }
    const consoleLog = this.records.preservedConsoleIfAny(id);
    this.records.setState(id, 'failed', reason, { process: null, vmDir: null, consoleLog });
    return jobError(vm, error, signal, consoleLog ?? undefined);
  }

  /** A start that failed: the process goes, the disks stay, the VM is stopped again. */
  private async failBoot(id: string, error: unknown, signal: AbortSignal): Promise<unknown> {
    const vm = this.deps.vms.get(id);
    if (!vm) return error;
    const reason = failureReason(error, signal);
    try {
      await this.teardown.stopEverything(vm);
    } catch (cleanupError) {
      this.deps.logger.error({ err: cleanupError, vmId: id }, 'cleanup after a failed start failed');
    }
    this.records.setState(id, 'stopped', reason, { process: null });
    return jobError(vm, error, signal, vm.consoleLog ?? undefined);
  }

  /** An older managed image whose work seed holds another key gets the daemon's current one first. */
  private async healSeed(imageId: string): Promise<ImageRow> {
    const image = this.records.requireImage(imageId);
    if (!image.workSeedPath || image.seededSshPublicKeyFingerprint === this.deps.identity.fingerprint) return image;
    if (!image.managed) {
      this.deps.logger.warn({ imageId }, "an unmanaged image's work seed holds another SSH key; banger does not write into registered files");
      return image;
    }
    await this.deps.imageService.reseed(image.id);
    this.deps.logger.info({ imageId, fingerprint: this.deps.identity.fingerprint }, 're-seeded an image before a VM create');
    return this.records.requireImage(imageId);
  }

  private async requireImageFiles(image: ImageRow): Promise<void> {
    for (const path of [image.rootfsPath, image.kernelPath, image.initrdPath, image.workSeedPath]) {
      if (path === null) continue;
      await access(path).catch(() => {
        throw new BangerError('image-not-bootable', `Image ${image.name} lost a file: ${path}`, { hint: 'rebuild or re-register the image' });
      });
    }
  }
}

function failureReason(error: unknown, signal: AbortSignal): StateReason {
  if (signal.aborted) {
    return signal.reason === 'cancel'
      ? { code: 'cancelled', message: 'the job was cancelled' }
      : { code: 'interrupted', message: 'the daemon shut down during the job' };
  }
  if (error instanceof VmBootFailure) return { code: error.kind, message: error.message };
  const message = error instanceof Error ? error.message : String(error);
  return { code: error instanceof BangerError ? error.code.replaceAll('-', '_') : 'error', message: message.split('\n')[0] ?? message };
}

function jobError(vm: VmRow, error: unknown, signal: AbortSignal, logPath: string | undefined): unknown {
  if (signal.aborted) return error;
  if (error instanceof VmBootFailure) return bootProblem(vm.name, error, logPath);
  if (error instanceof BangerError && logPath && !error.logPath) error.logPath = logPath;
  return error;
}
