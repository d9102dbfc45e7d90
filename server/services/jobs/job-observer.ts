import type { StoredStage } from '../../db/schema.js';
import type { JobStatus } from '../../domain/job.js';
import type { JobKind } from './job-kind.js';

export type EndedStageStatus = 'succeeded' | 'failed' | 'cancelled';

/**
 * Hears how long jobs and their stages took, e.g. the daemon's metrics. Every name it gets is one
 * the code declares (a kind's name, one of its stages), never one from a request.
 */
export interface JobObserver {
  stageEnded(kind: string, stage: string, status: EndedStageStatus, seconds: number): void;
  jobEnded(kind: string, status: JobStatus, seconds: number): void;
}

export interface EndedStage {
  /** The kind's stage, without the target a kind whose stages repeat per target records it with. */
  stage: string;
  status: EndedStageStatus;
  seconds: number;
}

/**
 * The stages that were running in `before` and have ended in `after`, with how long each ran. A
 * change keeps the plan's order (stage-plan.ts), so stages are compared by position: a delete of
 * a thousand VMs has a thousand stages, and this runs at each of them.
 */
export function endedStages(kind: JobKind, before: readonly StoredStage[], after: readonly StoredStage[]): EndedStage[] {
  const ended: EndedStage[] = [];
  for (const [i, stage] of after.entries()) {
    if (stage.status !== 'succeeded' && stage.status !== 'failed' && stage.status !== 'cancelled') continue;
    const previous = before[i];
    if (previous?.name !== stage.name || previous.status !== 'running') continue;
    const kindStage = kindStageOf(kind, stage.name);
    const seconds = secondsBetween(stage.startedAt, stage.finishedAt);
    if (kindStage !== undefined && seconds !== undefined) ended.push({ stage: kindStage, status: stage.status, seconds });
  }
  return ended;
}

/** Stage names hold no space (job-kind.ts), so `<stage> <target name>` starts with the kind's stage. */
function kindStageOf(kind: JobKind, recorded: string): string | undefined {
  return kind.stages.find((stage) => recorded === stage || (kind.eachTarget && recorded.startsWith(`${stage} `)));
}

export function secondsBetween(start: string | null, end: string | null): number | undefined {
  if (start === null || end === null) return undefined;
  return Math.max(0, Date.parse(end) - Date.parse(start)) / 1000;
}
