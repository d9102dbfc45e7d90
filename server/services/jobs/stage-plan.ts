import type { StoredStage } from '../../db/schema.js';
import { now } from '../ids.js';
import type { JobKind } from './job-kind.js';
import type { JobTargetRef } from './types.js';

/** Every stage of a new job, pending, in the order its work will reach them. */
export function plannedStages(kind: JobKind, targets: readonly JobTargetRef[]): StoredStage[] {
  const names = kind.eachTarget ? targets.flatMap((target) => kind.stages.map((stage) => targetStageName(stage, target))) : kind.stages;
  return names.map((name) => ({ name, status: 'pending', startedAt: null, finishedAt: null }));
}

/**
 * The name a stage is recorded under: `stage` itself, or `<stage> <target name>` for a kind whose
 * stages repeat per target. A name outside the kind's list is a bug in the work, so it throws
 * rather than growing the plan.
 */
export function recordedStageName(kind: JobKind, targets: readonly JobTargetRef[], stage: string, targetId?: string): string {
  if (!kind.stages.includes(stage)) {
    throw new Error(`job kind ${kind.name} has no stage "${stage}"; its stages are ${kind.stages.join(', ')}`);
  }
  if (!kind.eachTarget) {
    if (targetId !== undefined) throw new Error(`job kind ${kind.name} has one set of stages, not one per target`);
    return stage;
  }
  if (targetId === undefined) throw new Error(`job kind ${kind.name} repeats its stages for each target: use context.forTarget(id)`);
  const target = targets.find((candidate) => candidate.id === targetId);
  if (!target) throw new Error(`job kind ${kind.name}: ${targetId} is not one of the job's targets`);
  return targetStageName(stage, target);
}

function targetStageName(stage: string, target: JobTargetRef): string {
  return `${stage} ${target.name ?? target.id}`;
}

export function endRunningStage(stages: StoredStage[], status: 'succeeded' | 'failed' | 'cancelled', at: string = now()): StoredStage[] {
  return stages.map((stage) => (stage.status === 'running' ? { ...stage, status, finishedAt: at } : stage));
}

/** Ends the running stage and starts the planned one; entering the running stage again changes nothing. */
export function startStage(stages: StoredStage[], name: string, detail?: string): StoredStage[] {
  if (stages.some((stage) => stage.name === name && stage.status === 'running')) return stages;
  const index = stages.findIndex((stage) => stage.name === name && stage.status === 'pending');
  if (index === -1) throw new Error(`stage ${name} was already passed; a job goes through each stage once`);
  // One instant for both: two readings of the clock could put this start before the last one's end.
  const at = now();
  const started: StoredStage = { name, status: 'running', startedAt: at, finishedAt: null, ...(detail ? { detail } : {}) };
  return endRunningStage(stages, 'succeeded', at).map((stage, i) => (i === index ? started : stage));
}

/** Ends the running stage and marks the planned one skipped; one already reached stays as it is. */
export function skipStage(stages: StoredStage[], name: string, detail: string): StoredStage[] {
  return endRunningStage(stages, 'succeeded').map((stage) =>
    stage.name === name && stage.status === 'pending' ? { ...stage, status: 'skipped', detail } : stage,
  );
}
