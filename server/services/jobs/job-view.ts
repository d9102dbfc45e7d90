import type { JobRow } from '../../db/repositories/jobs.js';
import type { StoredStage } from '../../db/schema.js';
import type { Job, JobStatus, TargetType } from './types.js';

const targetCollections: Record<TargetType, string> = { image: 'images', vm: 'vms' };

export function jobView(row: JobRow): Job {
  const targetType = row.targetType as TargetType;
  return {
    id: row.id,
    kind: row.kind,
    status: row.status as JobStatus,
    target: {
      type: targetType,
      id: row.targetId,
      ...(row.targetName ? { name: row.targetName } : {}),
      // A target id that is a query (`?label=…`) stands for the set of resources it selects.
      href: `/${targetCollections[targetType]}${row.targetId.startsWith('?') ? '' : '/'}${row.targetId}`,
    },
    stages: row.stages.map((stage) => ({ ...stage, durationMs: durationOf(stage) })),
    progress: row.progress,
    result: row.result ?? null,
    error: row.error ?? null,
    logPath: row.logPath,
    cancellable: row.cancellable,
    createdAt: row.createdAt,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
    href: `/jobs/${row.id}`,
  };
}

function durationOf(stage: StoredStage): number | null {
  if (!stage.startedAt || !stage.finishedAt) return null;
  return Date.parse(stage.finishedAt) - Date.parse(stage.startedAt);
}

/** Percent of stages that are behind us; skipped stages count as done. */
export function progressOf(stages: StoredStage[]): number {
  if (stages.length === 0) return 0;
  const done = stages.filter((s) => s.status === 'succeeded' || s.status === 'skipped').length;
  return Math.floor((done / stages.length) * 100);
}
