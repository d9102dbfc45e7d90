import type { JobContext } from '../jobs/types.js';

/**
 * Moves a job from stage to stage and times each one: the VM keeps these timings, so
 * `GET /vms/{id}` says where its last boot spent its time.
 */
export class PhaseClock {
  readonly timings: Record<string, number> = {};
  private current: { name: string; started: number } | undefined;
  private readonly began = performance.now();
  private readonly entered = new Set<string>();

  constructor(private readonly context: Pick<JobContext, 'stage' | 'skip'>) {}

  enter(name: string, detail?: string): void {
    this.close();
    this.context.stage(name, detail);
    this.entered.add(name);
    this.current = { name, started: performance.now() };
  }

  skip(name: string, detail: string): void {
    this.close();
    this.context.skip(name, detail);
    this.entered.add(name);
  }

  has(name: string): boolean {
    return this.entered.has(name);
  }

  /** Ends the running phase's timing (the job service ends the stage itself). */
  close(): void {
    if (this.current) this.timings[this.current.name] = Math.round(performance.now() - this.current.started);
    this.current = undefined;
  }

  /** The timings with their total so far. */
  finish(): Record<string, number> {
    this.close();
    return { ...this.timings, total: Math.round(performance.now() - this.began) };
  }
}
