import { existsSync, readdirSync, statSync } from 'node:fs';
import { access, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ImageRepository, ImageRow } from '../../db/repositories/images.js';
import type { JobRepository } from '../../db/repositories/jobs.js';
import type { VmRepository, VmRow } from '../../db/repositories/vms.js';
import { createRootOverlay, createWorkDisk } from '../../host/disks.js';
import { removeTree } from '../../host/remove-tree.js';
import { killProcessGroup } from '../../host/runner.js';
import type { SshIdentity } from '../../host/ssh-key.js';
import type { HypervisorDriver } from '../../hypervisor/driver.js';
import { classifyBootFailure, describeBootFailure } from '../../hypervisor/boot-failure.js';
import { lastLines, readLogTail } from '../../hypervisor/log-tail.js';
import { BangerError, type FieldError } from '../errors.js';
import { formatSize, validationError } from '../images/build/build-request.js';
import type { ImageService } from '../images/image-service.js';
import { newId, now } from '../ids.js';
import type { JobService } from '../jobs/job-service.js';
import type { Job, JobContext } from '../jobs/types.js';
import { KeyedLock } from './keyed-lock.js';
import { PhaseClock } from './phase-clock.js';
import { PortAllocator, type PortAllocation, type PortRequest } from './port-allocator.js';
import { hostPortFree } from './port-probe.js';
import { killProcessesUsing } from './strays.js';
import { bootProblem, bootVm, VmBootFailure } from './vm-boot.js';
import { generatedVmName, parseLabelSelector, resourceErrors, type CreateVmInput, type LabelSelector } from './vm-request.js';
import type { VmSettings } from './vm-settings.js';
import { sshGuestPort, vmView, type Vm, type VmState } from './vm-view.js';

export interface VmServiceOptions {
  vms: VmRepository;
  images: ImageRepository;
  imageService: ImageService;
  jobRecords: JobRepository;
  jobs: JobService;
  driver: HypervisorDriver;
  /** `<state-dir>/vms`: one dir per VM, plus the console logs of failed creates. */
  vmsDir: string;
  identity: SshIdentity;
  settings: VmSettings;
  logger: Logger;
}

export const createStages = ['validate', 'clone_disks', 'seed_work_disk', 'allocate_network', 'spawn', 'kernel_boot', 'agent_ready', 'ports_ready', 'running'];
const bootStages = ['spawn', 'kernel_boot', 'agent_ready', 'ports_ready', 'running'];
export const startStages = ['validate', ...bootStages];
export const stopStages = ['stop_hypervisor', 'stopped'];
export const restartStages = ['stop_hypervisor', 'validate', ...bootStages];
export const deleteStages = ['stop_hypervisor', 'remove_files', 'release_network', 'deleted'];

const rootDiskName = 'root.qcow2';
const workDiskName = 'work.ext4';
const consoleTailBytes = 1024 * 1024;

export interface VmListQuery {
  state?: VmState;
  /** `key=value` selectors, all of which must match. */
  labels?: string[];
}

interface StateReason {
  code: string;
  message: string;
}

/** VMs: create, start, stop, delete as jobs; liveness, TTL and restart recovery. Knows nothing of HTTP. */
export class VmService {
  private readonly ports: PortAllocator;
  private readonly imageLocks = new KeyedLock();
  /** VMs a bulk delete job is working through: they have no job of their own to guard them. */
  private readonly bulkDeleting = new Map<string, string>();
  private monitorTimer: NodeJS.Timeout | undefined;
  private monitorRun: Promise<void> | undefined;

  constructor(private readonly options: VmServiceOptions) {
    this.ports = new PortAllocator(options.vms, options.settings.portRange);
  }

  list(query: VmListQuery, limit: number, afterName?: string): Vm[] {
    const labels = this.parseSelectors(query.labels ?? [], 'querystring.label');
    return this.views(this.options.vms.list({ state: query.state, labels }, limit, afterName));
  }

  get(idOrName: string): Vm {
    return this.view(this.find(idOrName));
  }

  /** Checks the request, records the VM as `creating` and starts its create job. */
  create(input: CreateVmInput): Job {
    const { settings } = this.options;
    const image = this.options.images.findByIdOrName(input.image);
    if (!image) {
      throw new BangerError('image-not-found', `No image with id or name "${input.image}"`, { hint: 'list images with GET /images (banger image ls)' });
    }
    this.requireBootable(image);
    const seedBytes = statSync(image.workSeedPath as string).size;
    const { errors, workDiskBytes } = resourceErrors(input, settings, seedBytes);
    if (errors.length > 0) throw validationError('Cannot create the VM', errors);

    // No await from here to the job's start: the name check and the insert are one step.
    const name = input.name ?? this.freeGeneratedName();
    if (this.options.vms.findByName(name)) {
      throw new BangerError('vm-name-taken', `A VM named ${name} already exists`, { hint: `pick another name, or delete it first: banger vm rm ${name}` });
    }
    const holding = this.options.vms.countHoldingResources();
    if (holding >= settings.maxVms) {
      throw new BangerError('vm-limit-reached', `This daemon already has ${holding} VMs; the limit is ${settings.maxVms}`, {
        hint: 'delete VMs you no longer need (banger vm ls), or raise BANGER_MAX_VMS',
      });
    }

    const id = newId();
    const timestamp = now();
    const requested = input.ports ?? [];
    const row: VmRow = {
      id,
      name,
      imageId: image.id,
      state: 'creating',
      stateReason: null,
      stateMessage: null,
      stateChangedAt: timestamp,
      cpus: input.cpus ?? settings.defaultCpus,
      memoryMib: input.memoryMiB ?? settings.defaultMemoryMiB,
      workDiskBytes,
      hypervisor: this.options.driver.name,
      accel: null,
      vmDir: null,
      process: null,
      consoleLog: null,
      labels: input.labels ?? {},
      ttlSeconds: input.ttlSeconds ?? null,
      expiresAt: input.ttlSeconds === undefined ? null : new Date(Date.parse(timestamp) + input.ttlSeconds * 1000).toISOString(),
      timings: null,
      bootedAt: null,
      createdAt: timestamp,
      updatedAt: timestamp,
    };
    this.options.vms.insert(row);
    const portRequests: PortRequest[] = [
      { guestPort: sshGuestPort, wait: requested.includes(sshGuestPort) },
      ...requested.filter((port) => port !== sshGuestPort).map((guestPort) => ({ guestPort, wait: true })),
    ];
    try {
      return this.options.jobs.start({
        kind: 'vm.create',
        target: { type: 'vm', id, name },
        stages: createStages,
        run: (context) => this.runCreate(id, image.id, portRequests, context),
      });
    } catch (error) {
      this.options.vms.delete(id);
      throw error;
    }
  }

  stop(idOrName: string, options: { graceSeconds?: number } = {}): Job {
    const vm = this.find(idOrName);
    if (vm.state !== 'running') throw this.stateConflict(vm, 'stopped', ['running']);
    const graceMs = options.graceSeconds === undefined ? this.options.settings.stopGraceMs : options.graceSeconds * 1000;
    return this.startVmJob(vm, 'vm.stop', stopStages, 'stopping', false, async (context) => {
      context.stage('stop_hypervisor', `the guest gets ${Math.round(graceMs / 1000)} s to power off`);
      const outcome = await this.stopProcess(vm.id, graceMs);
      context.stage('stopped', outcome);
      this.setState(vm.id, 'stopped', { code: 'stop_requested', message: `stopped on request (${outcome})` }, { process: null });
      return { vm: this.get(vm.id), outcome };
    });
  }

  start(idOrName: string): Job {
    const vm = this.find(idOrName);
    if (vm.state !== 'stopped') throw this.stateConflict(vm, 'started', ['stopped']);
    return this.startVmJob(vm, 'vm.start', startStages, 'starting', true, async (context) => {
      const clock = new PhaseClock(context);
      return this.bootExisting(vm.id, clock, context);
    });
  }

  restart(idOrName: string, options: { graceSeconds?: number } = {}): Job {
    const vm = this.find(idOrName);
    if (vm.state !== 'running' && vm.state !== 'stopped') throw this.stateConflict(vm, 'restarted', ['running', 'stopped']);
    const graceMs = options.graceSeconds === undefined ? this.options.settings.stopGraceMs : options.graceSeconds * 1000;
    const wasRunning = vm.state === 'running';
    return this.startVmJob(vm, 'vm.restart', restartStages, wasRunning ? 'stopping' : 'starting', true, async (context) => {
      const clock = new PhaseClock(context);
      if (wasRunning) {
        clock.enter('stop_hypervisor', `the guest gets ${Math.round(graceMs / 1000)} s to power off`);
        const outcome = await this.stopProcess(vm.id, graceMs);
        this.setState(vm.id, 'starting', null, { process: null });
        this.options.logger.info({ vmId: vm.id, outcome }, 'vm stopped for restart');
      } else {
        clock.skip('stop_hypervisor', 'the VM was stopped');
      }
      return this.bootExisting(vm.id, clock, context);
    });
  }

  delete(idOrName: string, reason: StateReason = { code: 'delete_requested', message: 'deleted on request' }): Job {
    const vm = this.find(idOrName);
    const bulk = this.bulkDeleting.get(vm.id);
    if (bulk) {
      throw new BangerError('resource-busy', `VM ${vm.name} is being deleted by job ${bulk}`, { hint: `wait for it: GET /jobs/${bulk}?wait=60` });
    }
    return this.startVmJob(vm, 'vm.delete', deleteStages, 'deleting', false, async (context) => {
      const before = this.get(vm.id);
      await this.destroy(vm.id, context);
      this.options.logger.info({ vmId: vm.id, name: vm.name, reason: reason.code }, 'vm deleted');
      return { vm: before, reason: reason.code };
    }, reason);
  }

  /** One job that deletes every VM carrying all the given labels. */
  deleteByLabels(selectorTexts: string[]): Job {
    const labels = this.parseSelectors(selectorTexts, 'querystring.label');
    if (labels.length === 0) {
      throw validationError('Cannot delete by label', [{ field: 'querystring.label', message: 'is required', hint: 'pass ?label=key=value' }]);
    }
    const matches = this.options.vms.matching({ labels });
    const busy = matches.flatMap((vm) => {
      const job = this.options.jobRecords.activeFor('vm', vm.id)?.id ?? this.bulkDeleting.get(vm.id);
      return job ? [`${vm.name} (job ${job})`] : [];
    });
    if (busy.length > 0) {
      throw new BangerError('resource-busy', `Some of the matching VMs are busy: ${busy.join(', ')}`, {
        hint: 'wait for those jobs (GET /jobs/{id}?wait=60) or cancel them, then retry',
      });
    }
    const selector = labels.map(({ key, value }) => `${key}=${value}`).join(',');
    const reason: StateReason = { code: 'delete_requested', message: `deleted with every VM labelled ${selector}` };
    // Marked before the job starts: its work begins inside jobs.start().
    const before = matches.map((vm) => ({ id: vm.id, state: vm.state, stateReason: vm.stateReason, stateMessage: vm.stateMessage, stateChangedAt: vm.stateChangedAt }));
    for (const vm of matches) {
      this.bulkDeleting.set(vm.id, 'starting');
      this.setState(vm.id, 'deleting', reason);
    }
    let job: Job;
    try {
      job = this.options.jobs.start({
        kind: 'vm.delete',
        // A query as the target id: the job's link then lists the VMs it is about.
        target: { type: 'vm', id: `?${labels.map(({ key, value }) => `label=${encodeURIComponent(`${key}=${value}`)}`).join('&')}`, name: `label ${selector}` },
        stages: matches.map((vm) => `delete ${vm.name}`),
        cancellable: false,
        run: (context) => this.runBulkDelete(matches, selector, reason, context),
      });
    } catch (error) {
      for (const { id, ...state } of before) {
        this.bulkDeleting.delete(id);
        this.options.vms.update(id, state);
      }
      throw error;
    }
    for (const vm of matches) if (this.bulkDeleting.has(vm.id)) this.bulkDeleting.set(vm.id, job.id);
    return this.options.jobs.get(job.id);
  }

  /** The serial console log, or its last `tail` lines. */
  async console(idOrName: string, tail?: number): Promise<string> {
    const vm = this.find(idOrName);
    if (!vm.consoleLog) return '';
    const text = await readLogTail(vm.consoleLog, consoleTailBytes).catch(() => '');
    if (tail === undefined) return text;
    const lines = lastLines(text, tail);
    return lines === '' ? '' : `${lines}\n`;
  }

  /**
   * At daemon start, before any job: re-adopt what still runs, settle what a crash cut short,
   * and remove VM dirs that no row owns.
   */
  async recover(): Promise<void> {
    const { vms, driver, logger } = this.options;
    for (const vm of vms.all()) {
      const alive = vm.process !== null && driver.isRunning(vm.process);
      switch (vm.state) {
        case 'running':
          if (alive) {
            logger.info({ vmId: vm.id, name: vm.name, pid: vm.process?.pid }, 're-adopted a running VM');
          } else {
            const message = await this.deathMessage(vm, 'while the daemon was not running');
            await this.stopProcess(vm.id, 0).catch(() => undefined);
            this.setState(vm.id, 'stopped', { code: 'hypervisor_exited', message }, { process: null });
            logger.warn({ vmId: vm.id, name: vm.name }, 'a VM died while the daemon was down');
          }
          break;
        case 'creating':
        case 'starting':
        case 'stopping':
        case 'deleting':
          await this.settleUnfinished(vm, 'the daemon stopped');
          break;
        default:
          // stopped or failed: nothing may run for them.
          if (alive) await this.stopProcess(vm.id, 0).catch(() => undefined);
          if (vm.process) vms.update(vm.id, { process: null });
      }
    }
    await this.removeOrphans();
  }

  /**
   * A VM left in a passing state by a job that is gone (a daemon restart, or a queued job that was
   * cancelled before it ran): a create is undone, a start or stop ends stopped, a delete is finished.
   */
  private async settleUnfinished(vm: VmRow, cause: string): Promise<void> {
    const { logger } = this.options;
    const lastJob = this.options.jobRecords.list({ targetType: 'vm', targetId: vm.id }, 1)[0];
    const code = lastJob?.status === 'cancelled' ? 'cancelled' : 'interrupted';
    const why = code === 'cancelled' ? `its job ${lastJob?.id} was cancelled` : cause;
    switch (vm.state) {
      case 'creating':
        await this.teardown(vm, { preserveConsole: true });
        this.setState(vm.id, 'failed', { code, message: `${why} while this VM was being created; its process and files were removed` }, {
          process: null,
          vmDir: null,
          consoleLog: this.preservedConsoleIfAny(vm.id),
        });
        logger.warn({ vmId: vm.id, name: vm.name, code }, 'an unfinished create was cleaned up');
        break;
      case 'starting':
      case 'stopping': {
        if (vm.process) await this.stopProcess(vm.id, 0).catch(() => undefined);
        if (vm.vmDir) await killProcessesUsing(vm.vmDir);
        const what = vm.state === 'starting' ? 'started' : 'stopped';
        this.setState(vm.id, 'stopped', { code, message: `${why} while this VM was being ${what}` }, { process: null });
        logger.warn({ vmId: vm.id, name: vm.name, code }, `an unfinished ${what === 'started' ? 'start' : 'stop'} was settled`);
        break;
      }
      case 'deleting':
        await this.destroy(vm.id).catch((error: unknown) => logger.error({ err: error, vmId: vm.id }, 'could not finish an unfinished delete'));
        break;
    }
  }

  /** Starts the liveness and TTL monitor; it runs once at once (expired TTLs after a restart). */
  startMonitor(): void {
    if (this.monitorTimer) return;
    const tick = () => {
      this.monitorRun ??= this.monitorOnce()
        .catch((error: unknown) => this.options.logger.error({ err: error }, 'vm monitor failed'))
        .finally(() => (this.monitorRun = undefined));
    };
    this.monitorTimer = setInterval(tick, this.options.settings.monitorIntervalMs);
    this.monitorTimer.unref();
    tick();
  }

  async stopMonitor(): Promise<void> {
    clearInterval(this.monitorTimer);
    this.monitorTimer = undefined;
    await this.monitorRun;
  }

  /**
   * One look: running VMs whose hypervisor died become stopped, VMs a vanished job left half-way are
   * settled, expired VMs get a delete job.
   */
  async monitorOnce(): Promise<void> {
    const { vms, driver, jobRecords, logger } = this.options;
    for (const vm of vms.withStates(['running'])) {
      if (!vm.process || driver.isRunning(vm.process)) continue;
      if (jobRecords.activeFor('vm', vm.id) || this.bulkDeleting.has(vm.id)) continue;
      // Re-read: a job may have moved it on since the list was made.
      const current = vms.get(vm.id);
      if (current?.state !== 'running' || !current.process || driver.isRunning(current.process)) continue;
      const message = await this.deathMessage(current, 'while the VM was running');
      await driver.stop(current.process, { graceMs: 0 }).catch(() => undefined);
      this.setState(vm.id, 'stopped', { code: 'hypervisor_exited', message }, { process: null });
      logger.warn({ vmId: vm.id, name: vm.name, pid: current.process.pid }, 'vm hypervisor exited; marked stopped');
    }
    for (const vm of vms.withStates(['creating', 'starting', 'stopping', 'deleting'])) {
      if (jobRecords.activeFor('vm', vm.id) || this.bulkDeleting.has(vm.id)) continue;
      const current = vms.get(vm.id);
      if (!current || current.state !== vm.state || jobRecords.activeFor('vm', vm.id)) continue;
      await this.settleUnfinished(current, 'its job ended');
    }
    for (const vm of vms.expiredAt(now())) {
      if (vm.state === 'deleting' || vm.state === 'creating' || vm.state === 'starting' || vm.state === 'stopping') continue;
      if (jobRecords.activeFor('vm', vm.id) || this.bulkDeleting.has(vm.id)) continue;
      try {
        const job = this.delete(vm.id, { code: 'ttl_expired', message: `its TTL of ${vm.ttlSeconds} s expired at ${vm.expiresAt}` });
        logger.info({ vmId: vm.id, name: vm.name, jobId: job.id }, 'vm TTL expired; deleting it');
      } catch (error) {
        logger.warn({ err: error, vmId: vm.id }, 'could not start the TTL delete of a VM');
      }
    }
  }

  // ---- jobs ----

  private async runCreate(id: string, imageId: string, portRequests: PortRequest[], context: JobContext): Promise<{ vm: Vm }> {
    const clock = new PhaseClock(context);
    const { signal } = context;
    try {
      const vm = this.require(id);
      const vmDir = join(this.options.vmsDir, id);
      const rootDisk = join(vmDir, rootDiskName);
      const workDisk = join(vmDir, workDiskName);

      let image = this.requireImage(imageId);
      const stale = image.workSeedPath !== null && image.seededSshPublicKeyFingerprint !== this.options.identity.fingerprint;
      clock.enter('validate', stale ? `image ${image.name}: re-seeding its work seed with the daemon's SSH key` : `image ${image.name}`);
      image = await this.imageLocks.with(image.id, () => this.healSeed(image.id));
      await this.requireImageFiles(image);

      clock.enter('clone_disks', rootDisk);
      await mkdir(vmDir, { recursive: true, mode: 0o750 });
      this.options.vms.update(id, { vmDir, updatedAt: now() });
      await createRootOverlay(image.rootfsPath, rootDisk, { signal });

      clock.enter('seed_work_disk', `${formatSize(vm.workDiskBytes)} from ${image.workSeedPath}`);
      await this.imageLocks.with(image.id, () => createWorkDisk(image.workSeedPath as string, workDisk, vm.workDiskBytes, { signal }));

      clock.enter('allocate_network', portRequests.map((port) => `guest ${port.guestPort}`).join(', '));
      const ports = await this.ports.reserve(id, portRequests);

      await this.boot(id, clock, context, ports, { vmDir, image, rootDisk, workDisk });
      return { vm: this.get(id) };
    } catch (error) {
      throw await this.failCreate(id, error, signal);
    }
  }

  private async runBulkDelete(matches: VmRow[], selector: string, reason: StateReason, context: JobContext) {
    const deleted: Array<{ id: string; name: string }> = [];
    let firstError: unknown;
    try {
      for (const vm of matches) {
        context.stage(`delete ${vm.name}`, vm.id);
        try {
          await this.destroy(vm.id);
          deleted.push({ id: vm.id, name: vm.name });
        } catch (error) {
          firstError ??= error;
          this.options.logger.error({ err: error, vmId: vm.id }, 'could not delete a VM of a bulk delete');
        }
      }
    } finally {
      for (const vm of matches) this.bulkDeleting.delete(vm.id);
    }
    if (firstError !== undefined) throw firstError;
    return { deleted, selector, reason: reason.code };
  }

  /** validate → spawn … running for a VM whose disks exist (start, restart). */
  private async bootExisting(id: string, clock: PhaseClock, context: JobContext): Promise<{ vm: Vm }> {
    try {
      const vm = this.require(id);
      clock.enter('validate', 'disks, image files and host ports');
      const image = this.requireImage(vm.imageId);
      await this.requireImageFiles(image);
      const vmDir = vm.vmDir ?? join(this.options.vmsDir, id);
      const rootDisk = join(vmDir, rootDiskName);
      const workDisk = join(vmDir, workDiskName);
      const missing = [rootDisk, workDisk].filter((path) => !existsSync(path));
      if (missing.length > 0) {
        throw new BangerError('preflight-failed', `VM ${vm.name} cannot start: its disk ${missing.join(' and ')} is missing`, {
          errors: missing.map((path) => ({ field: 'disk', message: `${path} is missing` })),
          hint: `delete the VM and create it again: banger vm rm ${vm.name}`,
        });
      }
      const ports: PortAllocation[] = [];
      for (const port of this.options.vms.portsOf(id)) {
        const request = { guestPort: port.guestPort, wait: port.wait };
        ports.push((await hostPortFree(port.hostPort)) ? { ...request, hostPort: port.hostPort } : await this.ports.replace(id, request));
      }
      await this.boot(id, clock, context, ports, { vmDir, image, rootDisk, workDisk });
      return { vm: this.get(id) };
    } catch (error) {
      throw await this.failBoot(id, error, context.signal);
    }
  }

  private async boot(
    id: string,
    clock: PhaseClock,
    context: JobContext,
    ports: PortAllocation[],
    files: { vmDir: string; image: ImageRow; rootDisk: string; workDisk: string },
  ): Promise<void> {
    const vm = this.require(id);
    const { settings, driver } = this.options;
    await bootVm({
      driver,
      spec: {
        vmDir: files.vmDir,
        kernel: files.image.kernelPath,
        initrd: files.image.initrdPath as string,
        rootDisk: files.rootDisk,
        workDisk: files.workDisk,
        cpus: vm.cpus,
        memoryMiB: vm.memoryMib,
        kernelArgs: [`banger.hostname=${vm.name}`],
      },
      ports,
      clock,
      signal: context.signal,
      agentTimeoutMs: settings.agentTimeoutMs,
      portTimeoutMs: settings.portTimeoutMs,
      onLaunched: (process) => {
        this.options.vms.update(id, { process, accel: process.accel, consoleLog: process.consoleLog, updatedAt: now() });
      },
      reallocate: (allocation) => this.ports.replace(id, allocation),
    });
    const timings = clock.finish();
    clock.enter('running');
    this.setState(id, 'running', null, { timings, bootedAt: now() });
    this.options.logger.info({ vmId: id, name: vm.name, timings }, 'vm running');
  }

  /** A create that failed, was cancelled or interrupted: nothing of it may remain but the row and its console log. */
  private async failCreate(id: string, error: unknown, signal: AbortSignal): Promise<unknown> {
    const vm = this.options.vms.get(id);
    if (!vm) return error;
    const reason = this.failureReason(error, signal);
    try {
      await this.teardown(vm, { preserveConsole: true });
    } catch (cleanupError) {
      this.options.logger.error({ err: cleanupError, vmId: id }, 'cleanup after a failed create failed');
    }
    const consoleLog = this.preservedConsoleIfAny(id);
    this.setState(id, 'failed', reason, { process: null, vmDir: null, consoleLog });
    return this.jobError(vm, error, signal, consoleLog ?? undefined);
  }

  /** A start that failed: the process goes, the disks stay, the VM is stopped again. */
  private async failBoot(id: string, error: unknown, signal: AbortSignal): Promise<unknown> {
    const vm = this.options.vms.get(id);
    if (!vm) return error;
    const reason = this.failureReason(error, signal);
    try {
      if (vm.process) await this.stopProcess(id, 0);
      if (vm.vmDir) await killProcessesUsing(vm.vmDir);
    } catch (cleanupError) {
      this.options.logger.error({ err: cleanupError, vmId: id }, 'cleanup after a failed start failed');
    }
    this.setState(id, 'stopped', reason, { process: null });
    return this.jobError(vm, error, signal, vm.consoleLog ?? undefined);
  }

  private failureReason(error: unknown, signal: AbortSignal): StateReason {
    if (signal.aborted) {
      return signal.reason === 'cancel'
        ? { code: 'cancelled', message: 'the job was cancelled' }
        : { code: 'interrupted', message: 'the daemon shut down during the job' };
    }
    if (error instanceof VmBootFailure) return { code: error.kind, message: error.message };
    const message = error instanceof Error ? error.message : String(error);
    return { code: error instanceof BangerError ? error.code.replaceAll('-', '_') : 'error', message: message.split('\n')[0] ?? message };
  }

  private jobError(vm: VmRow, error: unknown, signal: AbortSignal, logPath: string | undefined): unknown {
    if (signal.aborted) return error;
    if (error instanceof VmBootFailure) return bootProblem(vm.name, error, logPath);
    if (error instanceof BangerError && logPath && !error.logPath) error.logPath = logPath;
    return error;
  }

  /** Stops the recorded hypervisor; SIGKILL when the driver cannot. */
  private async stopProcess(id: string, graceMs: number): Promise<string> {
    const vm = this.require(id);
    if (!vm.process) return 'already-gone';
    try {
      return await this.options.driver.stop(vm.process, { graceMs });
    } catch (error) {
      this.options.logger.warn({ err: error, vmId: id }, 'driver stop failed; killing the process');
      killProcessGroup(vm.process.pid, vm.process.startTime, 'SIGKILL');
      return 'killed';
    }
  }

  /** Process, files and ports of a VM; the row stays. */
  private async teardown(vm: VmRow, options: { preserveConsole: boolean }): Promise<void> {
    if (vm.process) await this.stopProcess(vm.id, 0);
    const vmDir = vm.vmDir ?? join(this.options.vmsDir, vm.id);
    await killProcessesUsing(vmDir);
    if (options.preserveConsole) {
      const consoleLog = vm.process?.consoleLog ?? vm.consoleLog;
      if (consoleLog && consoleLog.startsWith(`${vmDir}/`) && existsSync(consoleLog)) {
        await rename(consoleLog, this.preservedConsolePath(vm.id)).catch(() => undefined);
      }
    }
    await removeTree(vmDir);
    this.options.vms.releasePorts(vm.id);
  }

  /** Everything of a VM, its row last. */
  private async destroy(id: string, context?: JobContext): Promise<void> {
    const vm = this.options.vms.get(id);
    if (!vm) return;
    context?.stage('stop_hypervisor', vm.process ? `pid ${vm.process.pid}` : 'no process');
    if (vm.process) await this.stopProcess(id, 0);
    const vmDir = vm.vmDir ?? join(this.options.vmsDir, id);
    await killProcessesUsing(vmDir);
    context?.stage('remove_files', vmDir);
    await removeTree(vmDir);
    await rm(this.preservedConsolePath(id), { force: true });
    context?.stage('release_network', this.options.vms.portsOf(id).map((port) => String(port.hostPort)).join(', ') || 'no ports');
    this.options.vms.releasePorts(id);
    context?.stage('deleted');
    this.options.vms.delete(id);
  }

  /** VM dirs and kept console logs that no row owns: left by a crash between a delete's steps. */
  private async removeOrphans(): Promise<void> {
    const { vmsDir, vms, logger } = this.options;
    if (!existsSync(vmsDir)) return;
    const known = new Set(vms.all().map((vm) => vm.id));
    for (const entry of readdirSync(vmsDir)) {
      const id = entry.replace(/\.console\.log$/, '');
      if (known.has(id)) continue;
      const path = join(vmsDir, entry);
      const killed = await killProcessesUsing(path);
      await removeTree(path);
      logger.warn({ path, killed }, 'removed a VM dir that no VM owns');
    }
  }

  // ---- helpers ----

  private startVmJob(
    vm: VmRow,
    kind: string,
    stages: string[],
    transientState: VmState,
    cancellable: boolean,
    run: (context: JobContext) => Promise<unknown>,
    reason: StateReason | null = null,
  ): Job {
    const busy = this.options.jobRecords.activeFor('vm', vm.id);
    if (busy) {
      throw new BangerError('resource-busy', `VM ${vm.name} is busy with job ${busy.id} (${busy.kind})`, {
        hint: `wait for it: GET /jobs/${busy.id}?wait=60, or cancel it: POST /jobs/${busy.id}/cancel`,
      });
    }
    const before = { state: vm.state, stateReason: vm.stateReason, stateMessage: vm.stateMessage, stateChangedAt: vm.stateChangedAt };
    this.setState(vm.id, transientState, reason);
    try {
      return this.options.jobs.start({ kind, target: { type: 'vm', id: vm.id, name: vm.name }, stages, cancellable, run });
    } catch (error) {
      this.options.vms.update(vm.id, before);
      throw error;
    }
  }

  private setState(id: string, state: VmState, reason: StateReason | null, fields: Partial<VmRow> = {}): void {
    const timestamp = now();
    this.options.vms.update(id, {
      ...fields,
      state,
      stateReason: reason?.code ?? null,
      stateMessage: reason?.message ?? null,
      stateChangedAt: timestamp,
      updatedAt: timestamp,
    });
  }

  /** Why a hypervisor that nobody stopped is gone, as far as its logs tell. */
  private async deathMessage(vm: VmRow, when: string): Promise<string> {
    const base = `the hypervisor process (pid ${vm.process?.pid ?? '?'}) exited ${when}`;
    if (!vm.process) return base;
    const evidence = {
      consoleTail: await readLogTail(vm.process.consoleLog).catch(() => ''),
      stderrTail: await readLogTail(vm.process.stderrLog, 4096).catch(() => ''),
      exited: true,
    };
    if (classifyBootFailure(evidence) === 'kernel_panic') return `${base}: ${describeBootFailure('kernel_panic', evidence)}`;
    const said = lastLines(evidence.stderrTail, 1).trim();
    if (said !== '') return `${base}: ${said}`;
    if (/reboot: (Power down|Restarting system)|System halted/.test(lastLines(evidence.consoleTail, 5))) return `${base}: the guest shut itself down`;
    return `${base} without a message (killed, or crashed)`;
  }

  private async healSeed(imageId: string): Promise<ImageRow> {
    const image = this.requireImage(imageId);
    if (!image.workSeedPath || image.seededSshPublicKeyFingerprint === this.options.identity.fingerprint) return image;
    if (!image.managed) {
      this.options.logger.warn({ imageId }, "an unmanaged image's work seed holds another SSH key; banger does not write into registered files");
      return image;
    }
    await this.options.imageService.reseed(image.id);
    this.options.logger.info({ imageId, fingerprint: this.options.identity.fingerprint }, 're-seeded an image before a VM create');
    return this.requireImage(imageId);
  }

  private requireBootable(image: ImageRow): void {
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

  private async requireImageFiles(image: ImageRow): Promise<void> {
    for (const path of [image.rootfsPath, image.kernelPath, image.initrdPath, image.workSeedPath]) {
      if (path === null) continue;
      await access(path).catch(() => {
        throw new BangerError('image-not-bootable', `Image ${image.name} lost a file: ${path}`, { hint: 'rebuild or re-register the image' });
      });
    }
  }

  private requireImage(imageId: string): ImageRow {
    const image = this.options.images.findByIdOrName(imageId);
    if (!image) throw new BangerError('image-not-found', `The VM's image ${imageId} no longer exists`, { hint: 'create the VM from another image' });
    return image;
  }

  private freeGeneratedName(): string {
    for (;;) {
      const name = generatedVmName();
      if (!this.options.vms.findByName(name)) return name;
    }
  }

  private parseSelectors(texts: string[], field: string): LabelSelector[] {
    const errors: FieldError[] = [];
    const selectors: LabelSelector[] = [];
    for (const text of texts) {
      const selector = parseLabelSelector(text);
      if (selector) selectors.push(selector);
      else errors.push({ field, message: `"${text}" is not key=value`, hint: 'pass label=key=value, e.g. ?label=ci-run=4711' });
    }
    if (errors.length > 0) throw validationError('Bad label selector', errors);
    return selectors;
  }

  private stateConflict(vm: VmRow, verb: string, allowed: string[]): BangerError {
    const busy = this.options.jobRecords.activeFor('vm', vm.id);
    return new BangerError('vm-state-conflict', `VM ${vm.name} is ${vm.state}; only a ${allowed.join(' or ')} VM can be ${verb}`, {
      hint: busy ? `job ${busy.id} (${busy.kind}) is working on it: GET /jobs/${busy.id}?wait=60` : `see its state: GET /vms/${vm.id}`,
    });
  }

  private preservedConsolePath(id: string): string {
    return join(this.options.vmsDir, `${id}.console.log`);
  }

  private preservedConsoleIfAny(id: string): string | null {
    const path = this.preservedConsolePath(id);
    return existsSync(path) ? path : null;
  }

  private find(idOrName: string): VmRow {
    const vm = this.options.vms.findByIdOrName(idOrName);
    if (!vm) throw new BangerError('vm-not-found', `No VM with id or name "${idOrName}"`, { hint: 'list VMs with GET /vms (banger vm ls)' });
    return vm;
  }

  private require(id: string): VmRow {
    const vm = this.options.vms.get(id);
    if (!vm) throw new BangerError('vm-not-found', `VM ${id} no longer exists`, { hint: 'list VMs with GET /vms' });
    return vm;
  }

  private view(row: VmRow): Vm {
    return this.views([row])[0] as Vm;
  }

  private views(rows: VmRow[]): Vm[] {
    const ports = this.options.vms.portsOfMany(rows.map((row) => row.id));
    const imageNames = new Map<string, string | null>();
    for (const row of rows) {
      if (!imageNames.has(row.imageId)) imageNames.set(row.imageId, this.options.images.findByIdOrName(row.imageId)?.name ?? null);
    }
    return rows.map((row) =>
      vmView(row, imageNames.get(row.imageId) ?? null, ports.filter((port) => port.vmId === row.id), this.options.identity.privateKeyPath),
    );
  }
}

