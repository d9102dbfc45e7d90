export { createClient, type BangerClient, type ClientOptions, type IdempotencyOptions, type StopVmOptions } from './client.js';
export type { ExecOptions } from './exec-stream.js';
export type { GuestPathContent, WriteDirectoryOptions, WriteFileOptions } from './guest-files.js';
export type { ByteSource } from './transport.js';
export { DaemonUnreachableError, ProblemError, WaitTimeoutError } from './errors.js';
export { defaultSocketPath, defaultStateDir } from './defaults.js';
export type { WaitJobOptions } from './wait-job.js';
export { targetIdOf } from './job-target.js';
export {
  finishedJobStatuses,
  isFinished,
  type FieldError,
  type Health,
  type Image,
  type ImageList,
  type ImagePageQuery,
  type Job,
  type JobEvent,
  type JobEventType,
  type JobList,
  type JobListFilter,
  type JobStage,
  type JobStatus,
  type JobSelection,
  type JobTarget,
  type Problem,
  type RegisterImageRequest,
  type BuildImageRequest,
  type Version,
  type CreateVmRequest,
  type ExecEvent,
  type ExecRequest,
  type StdinSent,
  type Vm,
  type VmList,
  type VmListQuery,
  type VmPort,
  type VmState,
  type WrittenPath,
} from './types.js';
