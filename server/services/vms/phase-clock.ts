import type { StageRecorder } from '../jobs/types.js';

/**
 * Moves a job from stage to stage and times each one: the VM keeps these timings, so
 * `GET /vms/{id}` says where its last boot spent its time.
 */
export class PhaseClock<Stage extends string = string> {
  readonly timings: Record<string, number> = {};
  private current: { name: string; started: number } | undefined;
  private readonly began = performance.now();
  private readonly entered = new Set<string>();

  constructor(private readonly context: StageRecorder<Stage>) {}

  enter(name: Stage, detail?: string): void {
    this.close();
    this.context.stage(name, detail);
    this.entered.add(name);
    this.current = { name, started: performance.now() };
  }

  skip(name: Stage, detail: string): void {
    this.close();
    this.context.skip(name, detail);
    this.entered.add(name);
  }

  has(name: Stage): boolean {
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
