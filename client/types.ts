import type { components, paths } from './generated/api.js';

type Schemas = components['schemas'];

export type Image = Schemas['Image'];
export type ImageList = Schemas['ImageList'];
export type Job = Schemas['Job'];
export type JobList = Schemas['JobList'];
export type JobStage = Schemas['JobStage'];
export type JobStatus = Schemas['JobStatus'];
export type JobTarget = Schemas['JobTarget'];
export type JobSelection = Schemas['JobSelection'];
export type Problem = Schemas['Problem'];
export type FieldError = Schemas['FieldError'];
export type Vm = Schemas['Vm'];
export type VmList = Schemas['VmList'];
export type VmPort = Schemas['VmPort'];
export type VmService = Schemas['VmService'];
export type ImageService = Schemas['ImageService'];
export type ImageServiceRequest = Schemas['ImageServiceRequest'];
export type VmState = Schemas['VmState'];
export type CreateVmRequest = Schemas['CreateVmRequest'];
export type Snapshot = Schemas['Snapshot'];
export type SnapshotList = Schemas['SnapshotList'];
export type CreateSnapshotRequest = Schemas['CreateSnapshotRequest'];
export type WarmImageRequest = Schemas['WarmImageRequest'];
export type ExecRequest = Schemas['ExecRequest'];
export type ExecEvent = Schemas['ExecEvent'];
export type StdinSent = Schemas['StdinSent'];
export type WrittenPath = Schemas['WrittenPath'];

export type Health = paths['/healthz']['get']['responses'][200]['content']['application/json'];
export type Version = paths['/version']['get']['responses'][200]['content']['application/json'];

export type RegisterImageRequest = paths['/images']['post']['requestBody']['content']['application/json'];
export type BuildImageRequest = paths['/images/builds']['post']['requestBody']['content']['application/json'];

export type ImagePageQuery = Partial<paths['/images']['get']['parameters']['query']>;
export type SnapshotPageQuery = Partial<paths['/snapshots']['get']['parameters']['query']>;
export type JobListFilter = Partial<paths['/jobs']['get']['parameters']['query']>;
export type VmListQuery = Partial<NonNullable<paths['/vms']['get']['parameters']['query']>>;

export type JobEventType = 'status' | 'stage';

/** One server-sent event of a job's stream: `id` is its sequence number, usable as lastEventId. */
export interface JobEvent {
  id: number;
  type: JobEventType | (string & {});
  job: Job;
}

export const finishedJobStatuses: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];

export function isFinished(status: JobStatus): boolean {
  return finishedJobStatuses.includes(status);
}
