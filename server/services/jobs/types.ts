import type { Static } from '@sinclair/typebox';
import type { JobEventType, TargetType } from '../../domain/job.js';
import type { JobSchema, JobSelectionSchema, JobStageSchema, JobTargetSchema } from '../../schemas/job.js';
import type { JobKind, StageOf } from './job-kind.js';

export { finishedJobStatuses as finishedStatuses, jobStatuses, type JobStatus, type TargetType } from '../../domain/job.js';

/** The job as clients see it. */
export type Job = Static<typeof JobSchema>;
export type JobStage = Static<typeof JobStageSchema>;
export type JobTarget = Static<typeof JobTargetSchema>;
export type JobSelection = Static<typeof JobSelectionSchema>;

export interface JobEvent {
  seq: number;
  type: JobEventType;
  at: string;
  job: Job;
}

/** A resource a job changes, as the job's definition names it. */
export interface JobTargetRef {
  type: TargetType;
  id: string;
  name?: string;
}

/** The resources a query selected, as a job over them names the query. */
export interface JobSelectionRef {
  type: TargetType;
  /** The selector in words, e.g. `label ci-run=4711`. */
  name: string;
  /** The query string that lists them in their collection, e.g. `label=ci-run%3D4711`. */
  query: string;
}

/** Moves a job through the stages of its kind. */
export interface StageRecorder<Stage extends string = string> {
  /** Ends the running stage and starts `name`. Throws for a stage the kind does not list. */
  stage(name: Stage, detail?: string): void;
  /** Marks a planned stage as skipped, with why. */
  skip(name: Stage, detail: string): void;
}

/** What a running job's work function gets from the job service. */
export interface JobContext<Stage extends string = string> extends StageRecorder<Stage> {
  readonly jobId: string;
  /** Aborted on cancel and on daemon shutdown; pass it to every command. */
  readonly signal: AbortSignal;
  readonly logPath: string | undefined;
  /** The stages of one target, for a kind whose stages repeat for each target. */
  forTarget(id: string): StageRecorder<Stage>;
  /** Records a child process so that a crash recovery can kill it; pass as a runner's onSpawn. */
  trackProcess(pid: number): void;
  /** Records a path that must be removed if the job does not succeed, even after a crash. */
  scratch(path: string): void;
  /**
   * Runs `apply` in one database transaction that also forgets the scratch paths, so that the
   * durable result and "nothing to clean up" become true together.
   */
  commit(apply: () => void): void;
}

export interface JobDefinition<Kind extends JobKind, Result> {
  kind: Kind;
  /**
   * The resources the job changes, in order. While it is queued or running none of them can be
   * the target of another job: the database refuses it. At least one unless there is a selection.
   */
  targets: readonly JobTargetRef[];
  /** Set when the targets are what a query selected: the job is then about the selection. */
  selection?: JobSelectionRef;
  cancellable?: boolean;
  logPath?: string;
  run(context: JobContext<StageOf<Kind>>): Promise<Result>;
}
