import { Type } from '@sinclair/typebox';
import { jobStageStatuses, jobStatuses, maxJobStages, maxJobTargets, maxStageNameLength, targetTypes, type JobStageStatus, type JobStatus } from '../domain/job.js';
import { maxLabels } from '../domain/vm.js';
import { cursorString, href, idString, integer, maxPageSize, message, milliseconds, nameString, nullable, pathString, text, timestamp } from './bounds.js';
import { ProblemSchema, ref } from './common.js';

const nullableTime = nullable(timestamp());

// An enum rather than a union of literals: one clear validation message instead of one per value.
export const JobStatusSchema = Type.Unsafe<JobStatus>({ $id: 'JobStatus', type: 'string', enum: [...jobStatuses] });

const targetType = Type.Union(targetTypes.map((type) => Type.Literal(type)));

// A selection is at most maxLabels `key=value` selectors, each at most 320 characters with a value
// of at most 255 UTF-16 units and a key of at most 63 of [A-Za-z0-9._/-].
/** `label ` and the selectors joined by commas. */
const maxSelectionNameLength = 6 + maxLabels * 321;
/** `/vms?` and `label=<selector>` joined by `&`, percent-encoded: at most 9 characters per value unit, 3 per key character. */
const maxSelectionHrefLength = 5 + maxLabels * ('label='.length + 63 * 3 + 3 + 255 * 9 + 1);

export const JobStageSchema = Type.Object(
  {
    name: text(maxStageNameLength, { description: 'The stage, or `<stage> <target name>` for a kind whose stages repeat for each target' }),
    status: Type.Unsafe<JobStageStatus>({ type: 'string', enum: [...jobStageStatuses] }),
    startedAt: nullableTime,
    finishedAt: nullableTime,
    durationMs: nullable(milliseconds()),
    detail: Type.Optional(message()),
  },
  { $id: 'JobStage', additionalProperties: false },
);

export const JobTargetSchema = Type.Object(
  {
    type: targetType,
    id: idString(),
    name: Type.Optional(nameString()),
    href: href(),
  },
  { $id: 'JobTarget', description: 'A resource a job changes', additionalProperties: false },
);

export const JobSelectionSchema = Type.Object(
  {
    type: targetType,
    name: text(maxSelectionNameLength, { description: 'The selector in words, e.g. label ci-run=4711' }),
    href: text(maxSelectionHrefLength, { description: 'Lists what the selector selects now, e.g. /vms?label=ci-run%3D4711' }),
  },
  {
    $id: 'JobSelection',
    description: "The resources a query selected (DELETE /vms?label=…): it has no id of its own; the job's targets are what it selected",
    additionalProperties: false,
  },
);

export const JobSchema = Type.Object(
  {
    id: idString(),
    kind: text(64, { description: 'e.g. image.promote' }),
    status: ref(JobStatusSchema),
    target: Type.Union([ref(JobTargetSchema), ref(JobSelectionSchema)], {
      description: 'What the job is about: its one resource (with an id), or the selection a job over the resources a query selected was asked for (no id)',
    }),
    targets: Type.Array(ref(JobTargetSchema), {
      maxItems: maxJobTargets,
      description: 'Every resource the job changes, in order; while the job is queued or running no other job may change them',
    }),
    stages: Type.Array(ref(JobStageSchema), { maxItems: maxJobStages }),
    progress: integer(0, 100, { description: 'Percent of stages done' }),
    result: Type.Unknown({ description: 'What the job produced, once succeeded' }),
    // Null first: fast-json-stringify tries an anyOf's branches in order, and most jobs have no error.
    error: Type.Union([Type.Null(), ref(ProblemSchema)]),
    logPath: nullable(pathString()),
    cancellable: Type.Boolean(),
    createdAt: timestamp(),
    startedAt: nullableTime,
    finishedAt: nullableTime,
    href: href(),
  },
  { $id: 'Job', additionalProperties: false },
);

export const JobListSchema = Type.Object(
  {
    items: Type.Array(ref(JobSchema), { maxItems: maxPageSize }),
    nextCursor: nullable(cursorString()),
  },
  { $id: 'JobList', additionalProperties: false },
);

export const JobListQuerySchema = Type.Object(
  {
    limit: Type.Optional(integer(1, maxPageSize, { description: 'Page size (default 50)' })),
    cursor: Type.Optional(cursorString({ description: 'nextCursor from the previous page' })),
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
    lastEventId: Type.Optional(integer(0, Number.MAX_SAFE_INTEGER, { description: 'Same as the Last-Event-ID header' })),
  },
  { additionalProperties: false },
);

export const jobSchemas = [JobStatusSchema, JobStageSchema, JobTargetSchema, JobSelectionSchema, JobSchema, JobListSchema];
