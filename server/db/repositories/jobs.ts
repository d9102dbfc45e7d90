import { and, asc, desc, eq, gt, inArray, lt, or, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../database.js';
import { jobEvents, jobs } from '../schema.js';

export type JobRow = typeof jobs.$inferSelect;
export type JobEventRow = typeof jobEvents.$inferSelect;

export interface JobListFilter {
  status?: string;
  kind?: string;
  targetType?: string;
  targetId?: string;
}

export interface JobPosition {
  createdAt: string;
  id: string;
}

export class JobRepository {
  constructor(private readonly db: Db) {}

  insert(row: JobRow): void {
    this.db.insert(jobs).values(row).run();
  }

  get(id: string): JobRow | undefined {
    return this.db.select().from(jobs).where(eq(jobs.id, id)).get();
  }

  update(id: string, fields: Partial<Omit<JobRow, 'id'>>): void {
    this.db.update(jobs).set(fields).where(eq(jobs.id, id)).run();
  }

  activeFor(targetType: string, targetId: string): JobRow | undefined {
    return this.db
      .select()
      .from(jobs)
      .where(
        and(eq(jobs.targetType, targetType), eq(jobs.targetId, targetId), inArray(jobs.status, ['queued', 'running'])),
      )
      .get();
  }

  /** An active job of `kind` for a target that may not have a row yet (an image being built, say). */
  activeByTargetName(kind: string, targetName: string): JobRow | undefined {
    return this.db
      .select()
      .from(jobs)
      .where(and(eq(jobs.kind, kind), eq(jobs.targetName, targetName), inArray(jobs.status, ['queued', 'running'])))
      .get();
  }

  withStatus(statuses: string[]): JobRow[] {
    return this.db.select().from(jobs).where(inArray(jobs.status, statuses)).all();
  }

  /** Newest first; the cursor is the position of the last job of the previous page. */
  list(filter: JobListFilter, limit: number, after?: JobPosition): JobRow[] {
    const conditions: SQL[] = [];
    if (filter.status) conditions.push(eq(jobs.status, filter.status));
    if (filter.kind) conditions.push(eq(jobs.kind, filter.kind));
    if (filter.targetType) conditions.push(eq(jobs.targetType, filter.targetType));
    if (filter.targetId) conditions.push(eq(jobs.targetId, filter.targetId));
    if (after) {
      const older = or(lt(jobs.createdAt, after.createdAt), and(eq(jobs.createdAt, after.createdAt), lt(jobs.id, after.id)));
      if (older) conditions.push(older);
    }
    return this.db
      .select()
      .from(jobs)
      .where(and(...conditions))
      .orderBy(desc(jobs.createdAt), desc(jobs.id))
      .limit(limit)
      .all();
  }

  appendEvent(jobId: string, type: string, data: Record<string, unknown>, at: string): JobEventRow {
    const next = this.db
      .select({ seq: sql<number>`coalesce(max(${jobEvents.seq}), 0) + 1` })
      .from(jobEvents)
      .where(eq(jobEvents.jobId, jobId))
      .get();
    const row: JobEventRow = { jobId, seq: next?.seq ?? 1, type, data, at };
    this.db.insert(jobEvents).values(row).run();
    return row;
  }

  eventsAfter(jobId: string, seq: number): JobEventRow[] {
    return this.db
      .select()
      .from(jobEvents)
      .where(and(eq(jobEvents.jobId, jobId), gt(jobEvents.seq, seq)))
      .orderBy(asc(jobEvents.seq))
      .all();
  }
}
