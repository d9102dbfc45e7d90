import type { JobRecord, JobTargetRow } from '../../db/repositories/jobs.js';
import type { StoredStage } from '../../db/schema.js';
import type { TargetType } from '../../domain/job.js';
import { clipText, maxMessageLength } from '../../domain/limits.js';
import { boundedProblem } from '../errors.js';
import type { Job, JobStage, JobTarget } from './types.js';

const targetCollections: Record<TargetType, string> = { image: 'images', vm: 'vms', snapshot: 'snapshots' };

export function jobView(record: JobRecord): Job {
  const targets = record.targets.map(targetView);
  return {
    id: record.id,
    kind: record.kind,
    status: record.status,
    target: subjectOf(record, targets),
    targets,
    stages: record.stages.map(stageView),
    progress: record.progress,
    result: record.result ?? null,
    error: record.error ? boundedProblem(record.error) : null,
    logPath: record.logPath,
    cancellable: record.cancellable,
    createdAt: record.createdAt,
    startedAt: record.startedAt,
    finishedAt: record.finishedAt,
    href: `/jobs/${record.id}`,
  };
}

/** A job over a selection is about the selection; any other job is about its first target. */
function subjectOf(record: JobRecord, targets: JobTarget[]): Job['target'] {
  if (record.selectionType !== null) {
    const collection = targetCollections[record.selectionType];
    return { type: record.selectionType, name: record.selectionName ?? '', href: `/${collection}?${record.selectionQuery ?? ''}` };
  }
  const [first] = targets;
  if (!first) throw new Error(`job ${record.id} has neither a target nor a selection`);
  return first;
}

function targetView(row: JobTargetRow): JobTarget {
  const href = `/${targetCollections[row.type]}/${row.targetId}`;
  return row.name ? { type: row.type, id: row.targetId, name: row.name, href } : { type: row.type, id: row.targetId, href };
}

/**
 * A stored stage with its duration, its detail clipped. Built field by field (in the stored order):
 * object spreads of every stage were the dearest part of a page of jobs.
 */
function stageView(stage: StoredStage): JobStage {
  const { name, status, startedAt, finishedAt } = stage;
  const durationMs = durationOf(stage);
  return stage.detail === undefined
    ? { name, status, startedAt, finishedAt, durationMs }
    : { name, status, startedAt, finishedAt, detail: clipText(stage.detail, maxMessageLength), durationMs };
}

function durationOf(stage: StoredStage): number | null {
  if (!stage.startedAt || !stage.finishedAt) return null;
  // Wall-clock times: a clock set back while the stage ran must not make it last less than nothing.
  return Math.max(0, Date.parse(stage.finishedAt) - Date.parse(stage.startedAt));
}

/** Percent of stages that are behind us; skipped stages count as done. */
export function progressOf(stages: StoredStage[]): number {
  if (stages.length === 0) return 0;
  const done = stages.filter((s) => s.status === 'succeeded' || s.status === 'skipped').length;
  return Math.floor((done / stages.length) * 100);
}
