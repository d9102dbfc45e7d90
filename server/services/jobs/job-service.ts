import { EventEmitter } from 'node:events';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { Database } from '../../db/database.js';
import type { JobListFilter, JobPosition, JobRepository, JobRow, NewJobTarget } from '../../db/repositories/jobs.js';
import type { StoredProblem, StoredStage } from '../../db/schema.js';
import { activeJobStatuses, finishedJobStatuses, type JobStatus } from '../../domain/job.js';
import { removeTree } from '../../host/remove-tree.js';
import { killProcessGroup, processStartTime, RunError } from '../../host/runner.js';
import { BangerError, problemFor } from '../errors.js';
import type { StorageGuard } from '../storage/storage-guard.js';
import { newId, now } from '../ids.js';
import type { JobKind } from './job-kind.js';
import { endedStages, secondsBetween, type JobObserver } from './job-observer.js';
import { jobView, progressOf } from './job-view.js';
import { endRunningStage, plannedStages, recordedStageName, skipStage, startStage } from './stage-plan.js';
import type { Job, JobContext, JobDefinition, JobEvent, JobTargetRef, StageRecorder } from './types.js';

type AbortReason = 'cancel' | 'shutdown';

interface ActiveJob {
  controller: AbortController;
  settled: Promise<void>;
}

export interface JobServiceOptions {
  database: Database;
  jobs: JobRepository;
  logger: Logger;
  /** Makes room for a job's records when the disk is full, and names a full disk as such. */
  storage: StorageGuard;
  maxConcurrent?: number;
  /** A job's log inside this dir is its own (image builds'), removed with it when it expires. */
  ownedLogDir?: string;
  /** Hears how long each job that ran, and each of its stages, took. */
  observer?: JobObserver;
}

// Expired jobs are removed this many per transaction, so a long backlog never holds the write lock long.
const PRUNE_BATCH = 200;

/**
 * Runs slow work as durable job records: stages, progress, cancellation, crash recovery and a
 * live event stream. The work itself lives in memory; after a restart a job is only a record.
 */
export class JobService {
  private readonly database: Database;
  private readonly jobs: JobRepository;
  private readonly logger: Logger;
  private readonly storage: StorageGuard;
  private readonly maxConcurrent: number;
  private readonly ownedLogDir: string | undefined;
  private readonly observer: JobObserver | undefined;
  private readonly events = new EventEmitter();
  private readonly active = new Map<string, ActiveJob>();
  private readonly waiting: Array<() => void> = [];
  private running = 0;
  private closing = false;

  constructor(options: JobServiceOptions) {
    this.database = options.database;
    this.jobs = options.jobs;
    this.logger = options.logger;
    this.storage = options.storage;
    this.maxConcurrent = options.maxConcurrent ?? 4;
    this.ownedLogDir = options.ownedLogDir;
    this.observer = options.observer;
    this.events.setMaxListeners(0);
  }

  /**
   * Records the job holding its targets and starts it in the background. Throws resource-busy,
   * naming the resource and its job, when another active job holds any of the targets.
   */
  start<Kind extends JobKind, Result>(definition: JobDefinition<Kind, Result>): Job {
    if (this.closing) throw new BangerError('shutting-down', 'The daemon is shutting down and accepts no new jobs');
    checkTargets(definition);
    const { targets } = definition;
    const id = newId();
    const row: JobRow = {
      id,
      kind: definition.kind.name,
      status: 'queued',
      selectionType: definition.selection?.type ?? null,
      selectionName: definition.selection?.name ?? null,
      selectionQuery: definition.selection?.query ?? null,
      stages: plannedStages(definition.kind, targets),
      progress: 0,
      result: null,
      error: null,
      logPath: definition.logPath ?? null,
      cancellable: definition.cancellable ?? true,
      processes: [],
      scratchPaths: [],
      createdAt: now(),
      startedAt: null,
      finishedAt: null,
    };
    try {
      this.jobs.insert(row, targets.map((target): NewJobTarget => ({ type: target.type, targetId: target.id, name: target.name ?? null })));
    } catch (error) {
      throw this.busyProblem(targets) ?? error;
    }
    this.publish(id, 'status');
    this.logger.info({ jobId: id, kind: row.kind, targets, selection: definition.selection }, 'job queued');

    const controller = new AbortController();
    const settled = this.runWhenSlotFree(id, definition, controller);
    this.active.set(id, { controller, settled });
    void settled.finally(() => this.active.delete(id));
    return this.get(id);
  }

  get(id: string): Job {
    const row = this.jobs.get(id);
    if (!row) throw new BangerError('job-not-found', `No job with id ${id}`, { hint: 'list jobs with GET /jobs' });
    return jobView(row);
  }

  list(filter: JobListFilter, limit: number, after?: JobPosition): Job[] {
    return this.jobs.list(filter, limit, after).map(jobView);
  }

  /**
   * Removes jobs that finished before `instant`, with their targets, events and own logs; a
   * job still queued or running is never touched. Returns how many went.
   */
  async removeFinishedBefore(instant: string): Promise<number> {
    let removed = 0;
    for (;;) {
      const batch = this.jobs.finishedBefore(instant, PRUNE_BATCH);
      if (batch.length === 0) return removed;
      this.jobs.remove(batch.map((job) => job.id));
      removed += batch.length;
      for (const { logPath } of batch) {
        // The daemon names these paths itself (a build's is <ownedLogDir>/<image id>.log).
        if (logPath && this.ownedLogDir && dirname(logPath) === this.ownedLogDir) await rm(logPath, { force: true });
      }
    }
  }

  /** Moves whenever a page of list() may show something else (any write to the database). */
  listStamp(): string {
    return this.jobs.dataStamp();
  }

  /** Resolves with the job as soon as it has finished, or as it is when `seconds` have passed. */
  async wait(id: string, seconds: number): Promise<Job> {
    const job = this.get(id);
    if (seconds <= 0 || this.isFinished(job.status)) return job;
    await new Promise<void>((resolve) => {
      const stop = () => {
        clearTimeout(timer);
        this.events.off(id, onEvent);
        this.events.off('close', stop);
        resolve();
      };
      const onEvent = (event: JobEvent) => {
        if (this.isFinished(event.job.status)) stop();
      };
      const timer = setTimeout(stop, seconds * 1000);
      this.events.on(id, onEvent);
      this.events.on('close', stop);
    });
    return this.get(id);
  }

  /** Events after `afterSeq` from the record, then live ones; `onClose` fires when no more will come. */
  subscribe(id: string, afterSeq: number, onEvent: (event: JobEvent) => void, onClose: () => void): () => void {
    const job = this.get(id);
    let lastSeq = afterSeq;
    const deliver = (event: JobEvent) => {
      if (event.seq <= lastSeq) return;
      lastSeq = event.seq;
      onEvent(event);
    };
    const close = () => {
      unsubscribe();
      onClose();
    };
    const onLive = (event: JobEvent) => {
      deliver(event);
      if (this.isFinished(event.job.status)) close();
    };
    const unsubscribe = () => {
      this.events.off(id, onLive);
      this.events.off('close', close);
    };
    this.events.on(id, onLive);
    this.events.on('close', close);
    for (const stored of this.jobs.eventsAfter(id, afterSeq)) {
      deliver({ seq: stored.seq, type: stored.type, at: stored.at, job: stored.data });
    }
    if (this.isFinished(job.status)) close();
    return unsubscribe;
  }

  /** Cancels a job and resolves once its work has stopped and cleaned up. */
  async cancel(id: string): Promise<Job> {
    const job = this.get(id);
    if (this.isFinished(job.status)) {
      throw new BangerError('job-finished', `Job ${id} already ${job.status} at ${job.finishedAt}`, {
        hint: 'only queued or running jobs can be cancelled',
      });
    }
    if (!job.cancellable) {
      throw new BangerError('job-not-cancellable', `Job ${id} (${job.kind}) cannot be cancelled`, {
        hint: `wait for it to finish: GET /jobs/${id}?wait=60`,
      });
    }
    const active = this.active.get(id);
    if (active) {
      this.storage.makeRoom('a cancel');
      active.controller.abort('cancel' satisfies AbortReason);
      await active.settled;
    }
    return this.get(id);
  }

  /**
   * After a crash nothing is running: jobs recorded as queued or running are failed as
   * interrupted, their child processes killed and their scratch paths removed.
   */
  async recoverInterrupted(): Promise<Job[]> {
    const recovered: Job[] = [];
    for (const row of this.jobs.withStatus(activeJobStatuses)) {
      // A child recorded without a start time was gone before it could be identified: nothing to kill.
      for (const process of row.processes) if (process.startTime !== null) killProcessGroup(process.pid, process.startTime, 'SIGKILL');
      await this.removeScratch(row.scratchPaths);
      this.updateStages(row.id, (stages) => endRunningStage(stages, 'failed'));
      this.finish(
        row.id,
        'failed',
        problemFor('interrupted', `The daemon stopped while job ${row.id} (${row.kind}) was ${row.status}; its partial work was removed`, {
          hint: 'start the operation again',
          logPath: row.logPath ?? undefined,
        }),
      );
      this.logger.warn({ jobId: row.id, kind: row.kind }, 'job interrupted by a daemon restart');
      recovered.push(this.get(row.id));
    }
    return recovered;
  }

  /** Stops accepting jobs, interrupts running ones and waits for their cleanup. */
  async shutdown(graceMs = 30_000): Promise<void> {
    this.closing = true;
    const pending = [...this.active.values()];
    for (const job of pending) job.controller.abort('shutdown' satisfies AbortReason);
    await Promise.race([
      Promise.allSettled(pending.map((job) => job.settled)),
      new Promise((resolve) => setTimeout(resolve, graceMs).unref()),
    ]);
    this.events.emit('close');
  }

  private isFinished(status: JobStatus): boolean {
    return finishedJobStatuses.includes(status);
  }

  /** Which target another job holds, if that is why a job could not be recorded. */
  private busyProblem(targets: readonly JobTargetRef[]): BangerError | undefined {
    for (const target of targets) {
      const busy = this.jobs.activeFor(target.type, target.id);
      if (!busy) continue;
      return new BangerError('resource-busy', `${target.type} ${target.name ?? target.id} is busy with job ${busy.id} (${busy.kind})`, {
        hint: `wait for it: GET /jobs/${busy.id}?wait=60, or cancel it: POST /jobs/${busy.id}/cancel`,
      });
    }
    return undefined;
  }

  /** Waits for a free slot (or an abort, which needs none), then runs the job in it. */
  private async runWhenSlotFree<Result>(id: string, definition: JobDefinition<JobKind, Result>, controller: AbortController): Promise<void> {
    const signal = controller.signal;
    while (this.running >= this.maxConcurrent && !signal.aborted) {
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve);
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
    }
    if (signal.aborted) {
      this.finishAborted(id, signal.reason as AbortReason, definition.logPath);
      return;
    }
    this.running += 1;
    try {
      await this.execute(id, definition, controller);
    } finally {
      this.running -= 1;
      // Wake every waiter: each re-checks, and a cancelled one must not swallow the wake-up.
      for (const wake of this.waiting.splice(0)) wake();
    }
  }

  private async execute<Result>(id: string, definition: JobDefinition<JobKind, Result>, controller: AbortController): Promise<void> {
    const signal = controller.signal;
    this.storage.withRoom(() => this.jobs.update(id, { status: 'running', startedAt: now() }));
    this.publish(id, 'status');
    const log = this.logger.child({ jobId: id, kind: definition.kind.name });
    log.info('job started');
    try {
      const result = await definition.run(this.contextFor(id, definition, signal, log));
      if (signal.aborted) throw signal.reason;
      this.updateStages(id, (stages) => endRunningStage(stages, 'succeeded'), definition.kind);
      this.finish(id, 'succeeded', null, result ?? null);
      log.info('job succeeded');
    } catch (error) {
      this.updateStages(id, (stages) => endRunningStage(stages, signal.reason === 'cancel' ? 'cancelled' : 'failed'), definition.kind);
      await this.removeScratch(this.jobs.get(id)?.scratchPaths ?? []);
      if (signal.aborted) {
        this.finishAborted(id, signal.reason as AbortReason, definition.logPath);
        log.warn({ reason: signal.reason }, 'job stopped');
      } else {
        const problem = problemFromError(this.storage.fullDiskError(error) ?? error, definition.logPath);
        this.finish(id, 'failed', problem);
        log.error({ err: error, code: problem.code }, 'job failed');
      }
    }
    this.observeEnd(id, definition.kind);
  }

  private contextFor<Result>(id: string, definition: JobDefinition<JobKind, Result>, signal: AbortSignal, log: Logger): JobContext {
    const { kind, targets } = definition;
    const recorder = (targetId?: string): StageRecorder => ({
      stage: (stage, detail) => {
        if (signal.aborted) throw signal.reason;
        const name = recordedStageName(kind, targets, stage, targetId);
        this.updateStages(id, (stages) => startStage(stages, name, detail), kind);
        log.info({ stage: name, detail }, 'job stage');
      },
      skip: (stage, detail) => {
        if (signal.aborted) throw signal.reason;
        const name = recordedStageName(kind, targets, stage, targetId);
        this.updateStages(id, (stages) => skipStage(stages, name, detail), kind);
        log.info({ stage: name, detail }, 'job stage skipped');
      },
    });
    return {
      ...recorder(),
      jobId: id,
      signal,
      logPath: definition.logPath,
      forTarget: (targetId) => recorder(targetId),
      trackProcess: (pid) => {
        const row = this.jobs.get(id);
        if (row) this.jobs.update(id, { processes: [...row.processes, { pid, startTime: processStartTime(pid) }] });
      },
      scratch: (path) => {
        const row = this.jobs.get(id);
        if (row && !row.scratchPaths.includes(path)) this.jobs.update(id, { scratchPaths: [...row.scratchPaths, path] });
      },
      commit: (apply) => {
        this.database.sqlite.transaction(() => {
          apply();
          this.jobs.update(id, { scratchPaths: [] });
        })();
      },
    };
  }

  private finishAborted(id: string, reason: AbortReason, logPath: string | undefined): void {
    if (reason === 'cancel') {
      this.finish(id, 'cancelled', problemFor('cancelled', `Job ${id} was cancelled; its partial work was removed`, { logPath }));
    } else {
      this.finish(
        id,
        'failed',
        problemFor('interrupted', `The daemon shut down while job ${id} was running; its partial work was removed`, {
          hint: 'start the operation again',
          logPath,
        }),
      );
    }
  }

  private finish(id: string, status: JobStatus, error: StoredProblem | null, result: unknown = null): void {
    this.storage.withRoom(() => this.jobs.finish(id, { status, error, result, finishedAt: now(), processes: [], scratchPaths: [] }));
    this.publish(id, 'status');
  }

  /**
   * `observed`: the kind whose ended stages the observer hears of. Recovery passes none: the
   * times of stages a restart cut short span the daemon's downtime.
   */
  private updateStages(id: string, change: (stages: StoredStage[]) => StoredStage[], observed?: JobKind): void {
    const row = this.jobs.get(id);
    if (!row) return;
    const stages = change(row.stages);
    if (JSON.stringify(stages) === JSON.stringify(row.stages)) return;
    this.storage.withRoom(() => this.jobs.update(id, { stages, progress: progressOf(stages) }));
    this.publish(id, 'stage');
    const observer = this.observer;
    if (!observer || !observed) return;
    this.report(() => {
      for (const ended of endedStages(observed, row.stages, stages)) observer.stageEnded(observed.name, ended.stage, ended.status, ended.seconds);
    });
  }

  /** A job that ran, from its start to its end; one cancelled while queued took no time worth a sample. */
  private observeEnd(id: string, kind: JobKind): void {
    const observer = this.observer;
    if (!observer) return;
    const row = this.jobs.get(id);
    const seconds = row && secondsBetween(row.startedAt, row.finishedAt);
    if (!row || seconds === undefined) return;
    this.report(() => observer.jobEnded(kind.name, row.status, seconds));
  }

  /** Measuring must never fail the work it measures. */
  private report(observe: () => void): void {
    try {
      observe();
    } catch (error) {
      this.logger.warn({ err: error }, 'a job observer failed');
    }
  }

  private publish(id: string, type: JobEvent['type']): void {
    const job = this.get(id);
    const stored = this.storage.withRoom(() => this.jobs.appendEvent(id, type, job, now()));
    this.events.emit(id, { seq: stored.seq, type, at: stored.at, job } satisfies JobEvent);
  }

  private async removeScratch(paths: string[]): Promise<void> {
    for (const path of paths) {
      try {
        await removeTree(path);
      } catch (error) {
        this.logger.error({ err: error, path }, 'could not remove scratch path');
      }
    }
  }
}

/** A job changes something, and names each thing once: a second mention would make it block itself. */
function checkTargets({ kind, targets, selection }: JobDefinition<JobKind, unknown>): void {
  if (targets.length === 0 && !selection) throw new Error(`a ${kind.name} job needs a target or a selection`);
  const keys = new Set(targets.map((target) => `${target.type} ${target.id}`));
  if (keys.size !== targets.length) throw new Error(`a ${kind.name} job names a target twice`);
}

function problemFromError(error: unknown, logPath: string | undefined): StoredProblem {
  if (error instanceof BangerError) {
    if (logPath && !error.logPath) error.logPath = logPath;
    return error.toProblem();
  }
  if (error instanceof RunError && error.reason === 'timeout') {
    return problemFor('tool-timeout', error.message, {
      hint: `the tool was stopped at its deadline, with every process it started${logPath ? `; its output so far is in ${logPath}` : ''}; check why it hangs (run it by hand), then retry`,
      logPath,
    });
  }
  if (error instanceof RunError) {
    return problemFor('command-failed', error.message, {
      hint: logPath ? `see the log at ${logPath}` : 'check that the host tool works when run by hand',
      logPath,
    });
  }
  const detail = error instanceof Error ? error.message : String(error);
  return problemFor('internal', detail, { logPath });
}
