import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BootMode } from '../../domain/snapshot.js';
import { vmStates, type VmState } from '../../domain/vm.js';
import type { JobObserver } from '../jobs/job-observer.js';

export interface DaemonMetricsOptions {
  /** Read at every scrape, so the gauge is never out of step with the rows. */
  vmsByState: () => ReadonlyMap<VmState, number>;
}

// Answers on the request path are sub-millisecond to a few ms; long polls and streams end in the last buckets.
const requestBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60];
// Stages and boot phases run from milliseconds (allocate_network) to minutes (a Debian boot under emulation).
const phaseBuckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600];
// Whole jobs: a pause takes well under a second, an image build tens of minutes.
const jobBuckets = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600];

/**
 * The daemon's Prometheus metrics, in a registry of its own that both listeners' apps share. Every
 * label value comes from a fixed set (route templates, statuses, job kinds and their stages, boot
 * phases, VM states), so no client can grow the series.
 */
export class DaemonMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'banger_http_requests_total',
    help: 'Requests answered, by method, route template (unmatched: no route) and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  private readonly requestSeconds = this.histogram(
    'banger_http_request_duration_seconds',
    'Time from a request to the end of its answer, by method and route template',
    ['method', 'route'],
    requestBuckets,
  );
  private readonly jobSeconds = this.histogram(
    'banger_job_duration_seconds',
    'Jobs that ran, from start to end (time queued left out), by kind and final status',
    ['kind', 'status'],
    jobBuckets,
  );
  private readonly stageSeconds = this.histogram(
    'banger_job_stage_duration_seconds',
    "Job stages that ran, by kind, the kind's stage name (without a target) and how the stage ended",
    ['kind', 'stage', 'status'],
    phaseBuckets,
  );
  private readonly bootPhaseSeconds = this.histogram(
    'banger_vm_boot_phase_duration_seconds',
    'Phases of boots and restores that reached running (total: the whole of one), by phase and mode (cold boot, warm restore)',
    ['phase', 'mode'],
    phaseBuckets,
  );

  constructor(options: DaemonMetricsOptions) {
    collectDefaultMetrics({ register: this.registry, prefix: 'banger_' });
    const vms: Gauge<'state'> = new Gauge({
      name: 'banger_vms',
      help: 'VMs by state, every state listed',
      labelNames: ['state'],
      registers: [this.registry],
      collect: () => {
        const counts = options.vmsByState();
        for (const state of vmStates) vms.set({ state }, counts.get(state) ?? 0);
      },
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The text exposition of every metric. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** One answered request; `route` must be a route template or a fixed word, never a URL. */
  requestAnswered(method: string, route: string, status: number, seconds: number): void {
    this.requests.inc({ method, route, status: String(status) });
    this.requestSeconds.observe({ method, route }, seconds);
  }

  /** For the job service: what its jobs and their stages took. */
  readonly jobs: JobObserver = {
    stageEnded: (kind, stage, status, seconds) => this.stageSeconds.observe({ kind, stage, status }, seconds),
    jobEnded: (kind, status, seconds) => this.jobSeconds.observe({ kind, status }, seconds),
  };

  /** A boot's timings as the VM row keeps them: milliseconds per phase. */
  booted(timings: Readonly<Record<string, number>>, mode: BootMode): void {
    for (const [phase, ms] of Object.entries(timings)) this.bootPhaseSeconds.observe({ phase, mode }, ms / 1000);
  }

  private histogram<Label extends string>(name: string, help: string, labelNames: readonly Label[], buckets: number[]): Histogram<Label> {
    return new Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
  }
}
