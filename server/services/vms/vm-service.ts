import { existsSync, statSync } from 'node:fs';
import type { ImageRow } from '../../db/repositories/images.js';
import type { VmRow } from '../../db/repositories/vms.js';
import { lastLines, readLogTail } from '../../hypervisor/log-tail.js';
import { BangerError, type FieldError } from '../errors.js';
import { validationError } from '../images/build/build-request.js';
import { newId, now } from '../ids.js';
import type { JobKind, StageOf } from '../jobs/job-kind.js';
import type { Job, JobContext } from '../jobs/types.js';
import { PhaseClock } from './phase-clock.js';
import { PortAllocator, type PortRequest } from './port-allocator.js';
import { VmBootJobs } from './vm-boot-jobs.js';
import { VmReconciler } from './vm-reconciler.js';
import { VmRecords, type StateReason, type VmDeps } from './vm-records.js';
import { generatedVmName, parseLabelSelector, resourceErrors, type CreateVmInput, type LabelSelector } from './vm-request.js';
import { vmCreateJob, vmDeleteJob, vmDeleteSelectedJob, vmRestartJob, vmStartJob, vmStopJob } from './vm-jobs.js';
import { VmTeardown } from './vm-teardown.js';
import { sshGuestPort, type Vm, type VmState } from './vm-view.js';

export type { VmDeps } from './vm-records.js';

const consoleTailBytes = 1024 * 1024;

export interface VmListQuery {
  state?: VmState;
  /** `key=value` selectors, all of which must match. */
  labels?: string[];
}

/**
 * VMs: the commands and their guards (what state allows what, one job per VM, limits), each
 * turned into a job. The job bodies are VmBootJobs and VmTeardown; VmReconciler keeps the
 * records true to the host. Knows nothing of HTTP.
 */
export class VmService {
  readonly reconciler: VmReconciler;
  private readonly records: VmRecords;
  private readonly teardown: VmTeardown;
  private readonly bootJobs: VmBootJobs;

  constructor(private readonly options: VmDeps) {
    this.records = new VmRecords(options);
    this.teardown = new VmTeardown(options, this.records);
    this.bootJobs = new VmBootJobs(options, this.records, this.teardown, new PortAllocator(options.vms, options.settings.portRange));
    this.reconciler = new VmReconciler(options, this.records, this.teardown, {
      isBusy: (vmId) => this.options.jobRecords.activeFor('vm', vmId) !== undefined,
      deleteExpired: (vmId, reason) => this.delete(vmId, reason),
    });
  }

  list(query: VmListQuery, limit: number, afterName?: string): Vm[] {
    const labels = this.parseSelectors(query.labels ?? [], 'querystring.label');
    return this.records.views(this.options.vms.list({ state: query.state, labels }, limit, afterName));
  }

  get(idOrName: string): Vm {
    return this.records.view(this.find(idOrName));
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
      hypervisor: this.options.hypervisors.default.name,
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
        kind: vmCreateJob,
        targets: [{ type: 'vm', id, name }],
        run: (context) => this.bootJobs.create(id, image.id, portRequests, context),
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
    return this.startVmJob(vm, vmStopJob, 'stopping', false, async (context) => {
      context.stage('stop_hypervisor', `the guest gets ${Math.round(graceMs / 1000)} s to power off`);
      const outcome = await this.teardown.stopProcess(vm.id, graceMs);
      context.stage('stopped', outcome);
      this.records.setState(vm.id, 'stopped', { code: 'stop_requested', message: `stopped on request (${outcome})` }, { process: null });
      return { vm: this.get(vm.id), outcome };
    });
  }

  start(idOrName: string): Job {
    const vm = this.find(idOrName);
    if (vm.state !== 'stopped') throw this.stateConflict(vm, 'started', ['stopped']);
    return this.startVmJob(vm, vmStartJob, 'starting', true, async (context) => {
      const clock = new PhaseClock(context);
      return this.bootJobs.bootExisting(vm.id, clock, context);
    });
  }

  restart(idOrName: string, options: { graceSeconds?: number } = {}): Job {
    const vm = this.find(idOrName);
    if (vm.state !== 'running' && vm.state !== 'stopped') throw this.stateConflict(vm, 'restarted', ['running', 'stopped']);
    const graceMs = options.graceSeconds === undefined ? this.options.settings.stopGraceMs : options.graceSeconds * 1000;
    const wasRunning = vm.state === 'running';
    return this.startVmJob(vm, vmRestartJob, wasRunning ? 'stopping' : 'starting', true, async (context) => {
      const clock = new PhaseClock(context);
      if (wasRunning) {
        clock.enter('stop_hypervisor', `the guest gets ${Math.round(graceMs / 1000)} s to power off`);
        const outcome = await this.teardown.stopProcess(vm.id, graceMs);
        this.records.setState(vm.id, 'starting', null, { process: null });
        this.options.logger.info({ vmId: vm.id, outcome }, 'vm stopped for restart');
      } else {
        clock.skip('stop_hypervisor', 'the VM was stopped');
      }
      return this.bootJobs.bootExisting(vm.id, clock, context);
    });
  }

  delete(idOrName: string, reason: StateReason = { code: 'delete_requested', message: 'deleted on request' }): Job {
    const vm = this.find(idOrName);
    return this.startVmJob(vm, vmDeleteJob, 'deleting', false, async (context) => {
      const before = this.get(vm.id);
      await this.teardown.destroy(vm.id, context);
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
      const job = this.options.jobRecords.activeFor('vm', vm.id)?.id;
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
    for (const vm of matches) this.records.setState(vm.id, 'deleting', reason);
    try {
      // Every matched VM is a target: while the job runs, the database refuses any other job on them.
      return this.options.jobs.start({
        kind: vmDeleteSelectedJob,
        targets: matches.map((vm) => ({ type: 'vm' as const, id: vm.id, name: vm.name })),
        selection: { type: 'vm', name: `label ${selector}`, query: labels.map(({ key, value }) => `label=${encodeURIComponent(`${key}=${value}`)}`).join('&') },
        cancellable: false,
        run: (context) => this.runBulkDelete(matches, selector, reason, context),
      });
    } catch (error) {
      for (const { id, ...state } of before) this.options.vms.update(id, state);
      throw error;
    }
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

  // ---- helpers ----

  private async runBulkDelete(matches: VmRow[], selector: string, reason: StateReason, context: JobContext<StageOf<typeof vmDeleteSelectedJob>>) {
    const deleted: Array<{ id: string; name: string }> = [];
    let firstError: unknown;
    for (const vm of matches) {
      context.forTarget(vm.id).stage('delete', vm.id);
      try {
        await this.teardown.destroy(vm.id);
        deleted.push({ id: vm.id, name: vm.name });
      } catch (error) {
        firstError ??= error;
        this.options.logger.error({ err: error, vmId: vm.id }, 'could not delete a VM of a bulk delete');
      }
    }
    if (firstError !== undefined) throw firstError;
    return { deleted, selector, reason: reason.code };
  }

  /** Moves the VM to its passing state and starts the job; the job service refuses a VM another job holds. */
  private startVmJob<Kind extends JobKind>(
    vm: VmRow,
    kind: Kind,
    transientState: VmState,
    cancellable: boolean,
    run: (context: JobContext<StageOf<Kind>>) => Promise<unknown>,
    reason: StateReason | null = null,
  ): Job {
    const before = { state: vm.state, stateReason: vm.stateReason, stateMessage: vm.stateMessage, stateChangedAt: vm.stateChangedAt };
    this.records.setState(vm.id, transientState, reason);
    try {
      return this.options.jobs.start({ kind, targets: [{ type: 'vm', id: vm.id, name: vm.name }], cancellable, run });
    } catch (error) {
      this.options.vms.update(vm.id, before);
      throw error;
    }
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

  private find(idOrName: string): VmRow {
    return this.records.find(idOrName);
  }
}
