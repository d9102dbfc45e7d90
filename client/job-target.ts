import type { Job } from './types.js';

/** The id of the one resource a job is about; a job over a selection has none (see its `targets`). */
export function targetIdOf(job: Job): string {
  if ('id' in job.target) return job.target.id;
  throw new Error(`job ${job.id} is about ${job.target.type}s selected by ${job.target.name}, not one resource; its targets list them`);
}
