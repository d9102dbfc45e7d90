import { Type } from '@sinclair/typebox';
import { jobStageStatuses, jobStatuses, targetTypes, type JobStageStatus, type JobStatus } from '../domain/job.js';
import { ProblemSchema, ref } from './common.js';

const nullableTime = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

// An enum rather than a union of literals: one clear validation message instead of one per value.
export const JobStatusSchema = Type.Unsafe<JobStatus>({ $id: 'JobStatus', type: 'string', enum: [...jobStatuses] });

const targetType = Type.Union(targetTypes.map((type) => Type.Literal(type)));

export const JobStageSchema = Type.Object(
  {
    name: Type.String(),
    status: Type.Unsafe<JobStageStatus>({ type: 'string', enum: [...jobStageStatuses] }),
    startedAt: nullableTime,
    finishedAt: nullableTime,
    durationMs: Type.Union([Type.Integer(), Type.Null()]),
    detail: Type.Optional(Type.String()),
  },
  { $id: 'JobStage', additionalProperties: false },
);

export const JobTargetSchema = Type.Object(
  {
    type: targetType,
    id: Type.String(),
    name: Type.Optional(Type.String()),
    href: Type.String(),
  },
  { $id: 'JobTarget', description: 'A resource a job changes', additionalProperties: false },
);

export const JobSelectionSchema = Type.Object(
  {
    type: targetType,
    name: Type.String({ description: 'The selector in words, e.g. label ci-run=4711' }),
    href: Type.String({ description: 'Lists what the selector selects now, e.g. /vms?label=ci-run%3D4711' }),
  },
  {
    $id: 'JobSelection',
    description: "The resources a query selected (DELETE /vms?label=…): it has no id of its own; the job's targets are what it selected",
    additionalProperties: false,
  },
);

export const JobSchema = Type.Object(
  {
    id: Type.String(),
    kind: Type.String({ description: 'e.g. image.promote' }),
    status: ref(JobStatusSchema),
    target: Type.Union([ref(JobTargetSchema), ref(JobSelectionSchema)], {
      description: 'What the job is about: its one resource (with an id), or the selection a job over the resources a query selected was asked for (no id)',
    }),
    targets: Type.Array(ref(JobTargetSchema), {
      description: 'Every resource the job changes, in order; while the job is queued or running no other job may change them',
    }),
    stages: Type.Array(ref(JobStageSchema)),
    progress: Type.Integer({ minimum: 0, maximum: 100, description: 'Percent of stages done' }),
    result: Type.Unknown({ description: 'What the job produced, once succeeded' }),
    error: Type.Union([ref(ProblemSchema), Type.Null()]),
    logPath: Type.Union([Type.String(), Type.Null()]),
    cancellable: Type.Boolean(),
    createdAt: Type.String({ format: 'date-time' }),
    startedAt: nullableTime,
    finishedAt: nullableTime,
    href: Type.String(),
  },
  { $id: 'Job', additionalProperties: false },
);

export const JobListSchema = Type.Object(
  {
    items: Type.Array(ref(JobSchema)),
    nextCursor: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'JobList', additionalProperties: false },
);

export const JobListQuerySchema = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
    status: Type.Optional(ref(JobStatusSchema)),
    kind: Type.Optional(Type.String({ maxLength: 64 })),
    targetType: Type.Optional(targetType),
    targetId: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);

export const JobWaitQuerySchema = Type.Object(
  {
    wait: Type.Optional(
      Type.Number({ minimum: 0, maximum: 60, description: 'Seconds to wait for the job to finish before answering' }),
    ),
  },
  { additionalProperties: false },
);

export const JobEventsQuerySchema = Type.Object(
  {
    lastEventId: Type.Optional(Type.Integer({ minimum: 0, description: 'Same as the Last-Event-ID header' })),
  },
  { additionalProperties: false },
);

export const jobSchemas = [JobStatusSchema, JobStageSchema, JobTargetSchema, JobSelectionSchema, JobSchema, JobListSchema];
