import type { VmRow } from '../../db/repositories/vms.js';
import type { HypervisorDriver, VmProcess } from '../../hypervisor/driver.js';
import { lastLines, readLogTail } from '../../hypervisor/log-tail.js';
import { BangerError, type FieldError } from '../errors.js';
import { validationError } from '../errors.js';
import { idShapedNameErrors, newId, now } from '../ids.js';
import type { JobKind, StageOf } from '../jobs/job-kind.js';
import type { Job, JobContext } from '../jobs/types.js';
import { PhaseClock } from './phase-clock.js';
import { PortAllocator } from './port-allocator.js';
import { VmBootJobs } from './vm-boot-jobs.js';
import { createdStoppedReason } from './vm-limits.js';
import { newVmRow, portRequestsFor } from './vm-rows.js';
import { planCreate } from './vm-create-plan.js';
import { VmRestoreJob } from './vm-restore-job.js';
import { VmSnapshotJob } from './vm-snapshot-job.js';
import { VmWarmJob } from './vm-warm-job.js';
import type { SnapshotRow } from '../../db/repositories/snapshots.js';
import type { SnapshotPurpose } from '../../domain/snapshot.js';
import { maxJobTargets } from '../../domain/job.js';
import { consoleTailBytes } from '../../domain/vm.js';
import { mib } from '../../domain/byte-size.js';
import type { CreateSnapshotBody, WarmImageBody } from '../../schemas/snapshot.js';
import type { SnapshotStore } from '../snapshots/snapshot-store.js';
import { VmReconciler } from './vm-reconciler.js';
import { VmRecords, type StateReason, type VmDeps } from './vm-records.js';
import { parseLabelSelector, type CreateVmInput, type LabelSelector } from './vm-request.js';
import { imageWarmJob, vmCreateJob, vmDeleteJob, vmRestoreJob, vmSnapshotJob, vmDeleteSelectedJob, vmPauseJob, vmRestartJob, vmResumeJob, vmStartJob, vmStopJob } from './vm-jobs.js';
import { VmTeardown } from './vm-teardown.js';
import { HostOverheadReadings } from './host-overhead.js';
import type { Vm, VmState } from './vm-view.js';

export type { VmDeps } from './vm-records.js';

// Pause and resume are one QMP command each; this only bounds a hypervisor that does not answer.
const quickJobWaitSeconds = 30;

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
  private readonly restoreJob: VmRestoreJob;
  private readonly snapshotJob: VmSnapshotJob;
  private readonly warmJob: VmWarmJob;
  private readonly hostOverhead = new HostOverheadReadings();

  constructor(
    private readonly options: VmDeps,
    private readonly snapshots: SnapshotStore,
  ) {
    this.records = new VmRecords(options);
    this.teardown = new VmTeardown(options, this.records);
    const ports = new PortAllocator(options.vms, options.settings.portRange);
    this.bootJobs = new VmBootJobs(options, this.records, this.teardown, ports);
    this.restoreJob = new VmRestoreJob(options, this.records, this.bootJobs, ports);
    this.snapshotJob = new VmSnapshotJob(options, this.records, snapshots);
    this.warmJob = new VmWarmJob(options, this.records, this.bootJobs, this.snapshotJob, this.teardown, snapshots);
    this.reconciler = new VmReconciler(options, this.records, this.teardown, snapshots, {
      isBusy: (vmId) => this.options.jobRecords.activeFor('vm', vmId) !== undefined,
      deleteExpired: (vmId, reason) => this.delete(vmId, reason),
    });
  }

  list(query: VmListQuery, limit: number, afterName?: string): Vm[] {
    const labels = this.parseSelectors(query.labels ?? [], 'querystring.label');
    return this.records.views(this.options.vms.list({ state: query.state, labels }, limit, afterName));
  }

  /**
   * Moves whenever a page of list() may show something else: a write to the database, or an answer
   * of a guest about its services (kept in memory). Equal stamps, equal pages.
   */
  listStamp(): string {
    return `${this.options.vms.dataStamp()}.${this.records.services.version}`;
  }

  get(idOrName: string): Vm {
    return this.records.view(this.find(idOrName));
  }

  /** One VM as GET /vms/{id} shows it: its services as the guest says now, and what its hypervisor process costs the host beyond guest RAM. */
  async describe(idOrName: string): Promise<Vm> {
    const row = this.find(idOrName);
    if (row.state === 'running' && this.records.services.servicesOf(row).length > 0) await this.records.services.refresh(row);
    const view = this.records.view(row);
    if (!row.process || (row.state !== 'running' && row.state !== 'paused')) return view;
    const driver = this.records.driverOf(row);
    const { process } = row;
    // Reading /proc is best effort: a process that just went away simply has no figure.
    const hostOverheadBytes = await this.hostOverhead.of(process, () => driver.memoryUsage(process));
    return hostOverheadBytes === null ? view : { ...view, hostOverheadBytes };
  }

  /**
   * Checks the request, records the VM as `creating` and starts its create job: a boot of the
   * image, or a restore of a snapshot (named, or the image's warm one).
   */
  async create(input: CreateVmInput, options: { memoryFile?: boolean } = {}): Promise<Job> {
    const plan = await planCreate(input, this.options, this.records, this.snapshots);
    this.options.storage.require('a VM create');
    if (plan.coldBecause) this.options.logger.info({ image: plan.image.name, why: plan.coldBecause }, 'a create boots cold');

    const start = input.start ?? true;
    // No await from here to the job's start: the name and limit checks and the insert are one step.
    const name = this.records.admitNewVm(input.name, { start });
    const row = newVmRow({ name, plan, input, defaultHypervisor: this.options.hypervisors.default.name, vmsDir: this.options.vmsDir, memoryFile: options.memoryFile ?? false });
    if (!start) {
      // Recorded from the start: a create that will not boot does not count against BANGER_MAX_VMS.
      const reason = createdStoppedReason('creating');
      Object.assign(row, { stateReason: reason.code, stateMessage: reason.message });
    }
    this.options.vms.insert(row);
    const { id } = row;
    const portRequests = portRequestsFor(input.ports ?? [], plan.image);
    const targets = [{ type: 'vm' as const, id, name }];
    try {
      const { snapshot } = plan;
      if (snapshot) {
        return this.options.jobs.start({ kind: vmRestoreJob, targets, run: (context) => this.restoreJob.run(id, snapshot, portRequests, context) });
      }
      return this.options.jobs.start({ kind: vmCreateJob, targets, run: (context) => this.bootJobs.create(id, plan.image.id, portRequests, context, { start }) });
    } catch (error) {
      this.options.vms.delete(id);
      throw error;
    }
  }

  /** Starts a job that snapshots the VM (running or paused); it goes on above the frozen disks, or stops. */
  snapshot(idOrName: string, body: CreateSnapshotBody): Job {
    const vm = this.find(idOrName);
    const nameErrors = idShapedNameErrors('body.name', body.name);
    if (nameErrors.length > 0) throw validationError(`Cannot snapshot VM ${vm.name}`, nameErrors);
    if (vm.state !== 'running' && vm.state !== 'paused') throw this.stateConflict(vm, 'snapshotted', ['running', 'paused']);
    this.options.storage.require('a snapshot', vm.memoryMib * mib);
    const snapshot = this.newSnapshotRow(body.name, vm, 'user');
    try {
      return this.options.jobs.start({
        kind: vmSnapshotJob,
        targets: [{ type: 'vm', id: vm.id, name: vm.name }, { type: 'snapshot', id: snapshot.id, name: snapshot.name }],
        cancellable: false,
        run: (context) => this.snapshotJob.run(vm.id, snapshot, body.stop ?? false, context),
      });
    } catch (error) {
      this.snapshots.repository.delete(snapshot.id);
      throw error;
    }
  }

  /**
   * Starts a job that boots a VM from the image, snapshots it once ready and deletes it: creates
   * from the image then restore that snapshot (POST /vms {image}, unless warm: false).
   */
  async warmImage(imageIdOrName: string, body: WarmImageBody): Promise<Job> {
    const input: CreateVmInput = { image: imageIdOrName, warm: false, cpus: body.cpus, memoryMiB: body.memoryMiB, ports: body.ports };
    const plan = await planCreate(input, this.options, this.records, this.snapshots);
    const image = plan.image;
    this.options.storage.require('warming an image', plan.memoryMiB * mib);
    // No await from here to the job's start.
    const name = this.records.admitNewVm(`warm-${image.name}-${newId().slice(0, 6)}`);
    const vm = newVmRow({ name, plan, input: { labels: { 'banger.warm-image': image.id } }, defaultHypervisor: this.options.hypervisors.default.name, vmsDir: this.options.vmsDir, memoryFile: true });
    this.options.vms.insert(vm);
    let snapshot: SnapshotRow | undefined;
    try {
      snapshot = this.newSnapshotRow(`${image.name}-warm-${vm.id.slice(0, 6)}`, vm, 'warm');
      const taken = snapshot;
      return this.options.jobs.start({
        kind: imageWarmJob,
        targets: [{ type: 'image', id: image.id, name: image.name }, { type: 'vm', id: vm.id, name: vm.name }, { type: 'snapshot', id: taken.id, name: taken.name }],
        run: (context) => this.warmJob.run(image.id, vm.id, taken, portRequestsFor(body.ports ?? [], image), context),
      });
    } catch (error) {
      if (snapshot) this.snapshots.repository.delete(snapshot.id);
      this.options.vms.delete(vm.id);
      throw error;
    }
  }

  /** Stops the guest's vCPUs; memory, disks and ports stay. Answers once it is paused. */
  pause(idOrName: string): Promise<Vm> {
    return this.switchRunState(idOrName, vmPauseJob, 'running', 'paused', { code: 'pause_requested', message: 'paused on request' });
  }

  resume(idOrName: string): Promise<Vm> {
    return this.switchRunState(idOrName, vmResumeJob, 'paused', 'running', null);
  }

  stop(idOrName: string, options: { graceSeconds?: number } = {}): Job {
    const vm = this.find(idOrName);
    if (vm.state !== 'running' && vm.state !== 'paused') throw this.stateConflict(vm, 'stopped', ['running', 'paused']);
    this.options.storage.makeRoom('a stop');
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
    this.options.storage.require('a VM start');
    this.records.admitStart();
    return this.startVmJob(vm, vmStartJob, 'starting', true, async (context) => {
      const clock = new PhaseClock(context);
      return this.bootJobs.bootExisting(vm.id, clock, context);
    });
  }

  restart(idOrName: string, options: { graceSeconds?: number } = {}): Job {
    const vm = this.find(idOrName);
    if (vm.state !== 'running' && vm.state !== 'paused' && vm.state !== 'stopped') {
      throw this.stateConflict(vm, 'restarted', ['running', 'paused', 'stopped']);
    }
    const graceMs = options.graceSeconds === undefined ? this.options.settings.stopGraceMs : options.graceSeconds * 1000;
    const wasRunning = vm.state !== 'stopped';
    this.options.storage.require('a VM restart');
    if (!wasRunning) this.records.admitStart();
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
    this.options.storage.makeRoom('a delete');
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
    this.options.storage.makeRoom('a delete');
    if (matches.length > maxJobTargets) {
      throw validationError('Cannot delete by label', [
        {
          field: 'querystring.label',
          message: `selects ${matches.length} VMs; one request deletes at most ${maxJobTargets}`,
          hint: 'add a label that splits them, or delete some by name first',
        },
      ]);
    }
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

  /** The row of a snapshot about to be taken of the VM, `creating`; its name must be free. */
  private newSnapshotRow(name: string, vm: VmRow, purpose: SnapshotPurpose): SnapshotRow {
    if (this.snapshots.repository.findByName(name)) {
      throw new BangerError('snapshot-name-taken', `A snapshot named ${name} already exists`, { hint: `pick another name, or delete it first: banger snapshot rm ${name}` });
    }
    const id = newId();
    const row: SnapshotRow = {
      id,
      name,
      sourceVmId: vm.id,
      sourceVmName: vm.name,
      imageId: vm.imageId,
      // Its frozen layers sit on the layers the VM stands on now.
      baseSnapshotId: vm.baseSnapshotId,
      purpose,
      state: 'creating',
      stateMessage: null,
      dir: this.snapshots.dirFor(id),
      artifacts: null,
      cpus: vm.cpus,
      memoryMib: vm.memoryMib,
      workDiskBytes: vm.workDiskBytes,
      sizeBytes: 0,
      createdAt: now(),
    };
    this.snapshots.repository.insert(row);
    return row;
  }

  /** Pause or resume: one driver call as a short job (so no other job overlaps it), waited for. */
  private async switchRunState(
    idOrName: string,
    kind: typeof vmPauseJob | typeof vmResumeJob,
    from: 'running' | 'paused',
    to: 'running' | 'paused',
    reason: StateReason | null,
  ): Promise<Vm> {
    const vm = this.find(idOrName);
    if (vm.state !== from) throw this.stateConflict(vm, to === 'paused' ? 'paused' : 'resumed', [from]);
    const job = this.startVmJob(vm, kind, from, false, async (context) => {
      context.stage(to === 'paused' ? 'pause' : 'resume');
      await this.runningProcess(vm.id, (driver, process) => (to === 'paused' ? driver.pause(process) : driver.resume(process)));
      this.records.setState(vm.id, to, reason);
      return { vm: this.get(vm.id) };
    });
    return this.settled(job);
  }

  /** Runs a driver call on the VM's recorded process; a VM whose process is gone is a conflict. */
  private async runningProcess(id: string, call: (driver: HypervisorDriver, process: VmProcess) => Promise<void>): Promise<void> {
    const vm = this.records.require(id);
    const driver = this.records.driverOf(vm);
    if (!vm.process || !driver.isRunning(vm.process)) {
      throw new BangerError('vm-state-conflict', `VM ${vm.name} has no running hypervisor process`, { hint: `see its state: GET /vms/${vm.id}` });
    }
    await call(driver, vm.process);
  }

  /** Waits for a quick job and answers with its VM, or throws its problem. */
  private async settled(job: Job): Promise<Vm> {
    const done = await this.options.jobs.wait(job.id, quickJobWaitSeconds);
    if (done.status === 'succeeded') return (done.result as { vm: Vm }).vm;
    if (done.error) throw BangerError.fromProblem(done.error);
    throw new BangerError('internal', `Job ${job.id} (${job.kind}) did not finish within ${quickJobWaitSeconds} s`, { hint: `follow it: GET /jobs/${job.id}?wait=60` });
  }

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

  /** A running VM's process and driver, for work inside the guest (exec, files); 409 in any other state. */
  runningVm(idOrName: string, purpose: string): { vm: VmRow; process: VmProcess; driver: HypervisorDriver } {
    const vm = this.find(idOrName);
    if (vm.state !== 'running' || !vm.process) throw this.stateConflict(vm, purpose, ['running']);
    return { vm, process: vm.process, driver: this.records.driverOf(vm) };
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
