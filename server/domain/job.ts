/**
 * The job vocabulary shared by the database columns, the HTTP schemas and the job service.
 * It imports nothing, so db/, schemas/ and services/ can all depend on it without a cycle.
 */

export const jobStatuses = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof jobStatuses)[number];

/** A job in one of these holds its targets: no other job may change them meanwhile. */
export const activeJobStatuses: readonly JobStatus[] = ['queued', 'running'];
export const finishedJobStatuses: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];

export const jobStageStatuses = ['pending', 'running', 'succeeded', 'failed', 'cancelled', 'skipped'] as const;
export type JobStageStatus = (typeof jobStageStatuses)[number];

export const jobEventTypes = ['status', 'stage'] as const;
export type JobEventType = (typeof jobEventTypes)[number];

/** The kinds of resource a job can change. */
export const targetTypes = ['image', 'vm', 'snapshot'] as const;
export type TargetType = (typeof targetTypes)[number];
