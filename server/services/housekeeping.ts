import type { Logger } from 'pino';
import type { IdempotencyRepository } from '../db/repositories/idempotency.js';
import type { JobService } from './jobs/job-service.js';

export interface HousekeepingSettings {
  /** How long a finished job (its events, its build log) is kept; 0 keeps every job. BANGER_JOB_RETENTION_SECONDS. */
  jobRetentionSeconds: number;
  /** How long an answered Idempotency-Key is replayed. */
  idempotencyKeySeconds: number;
}

export interface HousekeepingDeps {
  jobs: JobService;
  idempotencyKeys: IdempotencyRepository;
  settings: HousekeepingSettings;
  logger: Logger;
}

// Often enough that nothing outlives its retention by more than a quarter of it, rarely enough to cost nothing.
const MIN_INTERVAL_MS = 10_000;
const MAX_INTERVAL_MS = 60 * 60 * 1000;

/**
 * Keeps the database from growing with the daemon's age: finished jobs and answered
 * Idempotency-Keys past their lifetime are removed, at start and then periodically.
 */
export class Housekeeping {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly deps: HousekeepingDeps) {}

  get intervalMs(): number {
    const { jobRetentionSeconds, idempotencyKeySeconds } = this.deps.settings;
    const shortest = Math.min(...[jobRetentionSeconds, idempotencyKeySeconds].filter((seconds) => seconds > 0)) * 1000;
    return Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, shortest / 4));
  }

  /** Runs once now, in the background (a long backlog must not hold up the daemon's start), then every intervalMs. */
  start(): void {
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One pass; errors are logged, never thrown (the next pass tries again). */
  tick(): Promise<void> {
    this.running ??= this.sweep()
      .catch((error: unknown) => this.deps.logger.error({ err: error }, 'housekeeping failed'))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async sweep(): Promise<void> {
    const { jobs, idempotencyKeys, settings, logger } = this.deps;
    const ago = (seconds: number) => new Date(Date.now() - seconds * 1000).toISOString();
    const keys = idempotencyKeys.expireBefore(ago(settings.idempotencyKeySeconds));
    const removedJobs = settings.jobRetentionSeconds > 0 ? await jobs.removeFinishedBefore(ago(settings.jobRetentionSeconds)) : 0;
    if (keys > 0 || removedJobs > 0) logger.info({ jobs: removedJobs, idempotencyKeys: keys }, 'expired finished jobs and idempotency keys');
  }
}
