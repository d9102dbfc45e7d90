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

/** The most resources one job changes: a delete by label refuses to select more (the other jobs change at most 3). */
export const maxJobTargets = 1000;
/** The most stages a job has: the longest kind (image.build) has 12; a kind whose stages repeat per target has one per target. */
export const maxJobStages = maxJobTargets;
/** A stage's name: the stage (at most 32 characters) and, for a kind whose stages repeat per target, the target's name or id. */
export const maxStageNameLength = 128;
