import type { StoredProblem, StoredStage } from '../../db/schema.js';

export const jobStatuses = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof jobStatuses)[number];
export const finishedStatuses: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];

export type TargetType = 'image' | 'vm';

export interface JobTarget {
  type: TargetType;
  id: string;
  name?: string;
}

/** The job as clients see it. */
export interface Job {
  id: string;
  kind: string;
  status: JobStatus;
  target: JobTarget & { href: string };
  stages: Array<StoredStage & { durationMs: number | null }>;
  progress: number;
  result: unknown;
  error: StoredProblem | null;
  logPath: string | null;
  cancellable: boolean;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  href: string;
}

export interface JobEvent {
  seq: number;
  type: 'status' | 'stage';
  at: string;
  job: Job;
}

/** What a running job's work function gets from the job service. */
export interface JobContext {
  readonly jobId: string;
  /** Aborted on cancel and on daemon shutdown; pass it to every command. */
  readonly signal: AbortSignal;
  readonly logPath: string | undefined;
  /** Ends the running stage and starts `name`. */
  stage(name: string, detail?: string): void;
  /** Marks a planned stage as skipped, with why. */
  skip(name: string, detail: string): void;
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

export interface JobDefinition<Result> {
  kind: string;
  target: JobTarget;
  /** Stage names in the order the work will reach them; shown as pending until then. */
  stages: string[];
  cancellable?: boolean;
  logPath?: string;
  run(context: JobContext): Promise<Result>;
}
