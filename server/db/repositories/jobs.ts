import { and, asc, desc, eq, exists, getTableColumns, gt, inArray, lt, or, sql, type SQL } from 'drizzle-orm';
import { finishedJobStatuses, type JobStatus, type TargetType } from '../../domain/job.js';
import type { Db } from '../database.js';
import { jobEvents, jobs, jobTargets } from '../schema.js';
import { dataStamp } from './data-stamp.js';
import { inJsonArray, limitPlaceholder, once, prepareRows, StatementsByShape } from './prepared.js';

const jobTargetColumns = getTableColumns(jobTargets);
const jobColumns = getTableColumns(jobs);

export type JobRow = typeof jobs.$inferSelect;
export type JobTargetRow = typeof jobTargets.$inferSelect;
export type JobEventRow = typeof jobEvents.$inferSelect;

/** A job with its targets, in order. */
export interface JobRecord extends JobRow {
  targets: JobTargetRow[];
}

/** A target as a new job names it; its position and `active` flag come from the insert. */
export type NewJobTarget = Pick<JobTargetRow, 'type' | 'targetId' | 'name'>;

export interface JobListFilter {
  status?: JobStatus;
  kind?: string;
  /** Matches a job with a target of this type, or over a selection of this type. */
  targetType?: TargetType;
  /** Matches a job that has this resource among its targets. */
  targetId?: string;
}

export interface JobPosition {
  createdAt: string;
  id: string;
}

export class JobRepository {
  // The reads on a request's path (lists, lookups, polls), prepared once; writes are built per call.
  private readonly byId = once(() => prepareRows(this.db, jobColumns, (select) => select.from(jobs).where(eq(jobs.id, sql.placeholder('id')))));
  private readonly pages = new StatementsByShape<JobRow>();
  private readonly targetsOfSome = once(() =>
    prepareRows(this.db, jobTargetColumns, (select) =>
      select
        .from(jobTargets)
        .where(inJsonArray(jobTargets.jobId, 'jobIds'))
        .orderBy(asc(jobTargets.jobId), asc(jobTargets.position)),
    ),
  );

  constructor(private readonly db: Db) {}

  /** Changes whenever any table may have changed (data-stamp.ts): what kept answers of job lists are checked against. */
  dataStamp(): string {
    return dataStamp(this.db)();
  }

  /** Records the job holding its targets; fails on the unique index when one is held by another job. */
  insert(row: JobRow, targets: NewJobTarget[]): void {
    this.db.transaction((tx) => {
      tx.insert(jobs).values(row).run();
      if (targets.length === 0) return;
      tx.insert(jobTargets)
        .values(targets.map((target, position) => ({ ...target, jobId: row.id, position, active: true })))
        .run();
    });
  }

  get(id: string): JobRecord | undefined {
    const row = this.byId().get({ id });
    return row && this.withTargets([row])[0];
  }

  update(id: string, fields: Partial<Omit<JobRow, 'id'>>): void {
    this.db.update(jobs).set(fields).where(eq(jobs.id, id)).run();
  }

  /** Records the job's end and lets go of its targets in one step. */
  finish(id: string, fields: Partial<Omit<JobRow, 'id'>> & { status: JobStatus }): void {
    this.db.transaction((tx) => {
      tx.update(jobs).set(fields).where(eq(jobs.id, id)).run();
      tx.update(jobTargets).set({ active: false }).where(eq(jobTargets.jobId, id)).run();
    });
  }

  /** The queued or running job that holds a resource. */
  activeFor(type: TargetType, targetId: string): JobRow | undefined {
    return this.activeWhere(and(eq(jobTargets.type, type), eq(jobTargets.targetId, targetId)));
  }

  /** An active job of `kind` for a target that may not have a row yet (an image being built, say). */
  activeByTargetName(kind: string, targetName: string): JobRow | undefined {
    return this.activeWhere(and(eq(jobs.kind, kind), eq(jobTargets.name, targetName)));
  }

  /** Jobs that finished before `instant`, oldest first, at most `limit`: what retention removes. */
  finishedBefore(instant: string, limit: number): Array<Pick<JobRow, 'id' | 'logPath'>> {
    return this.db
      .select({ id: jobs.id, logPath: jobs.logPath })
      .from(jobs)
      .where(and(inArray(jobs.status, finishedJobStatuses), lt(jobs.finishedAt, instant)))
      .orderBy(asc(jobs.finishedAt))
      .limit(limit)
      .all();
  }

  /** Removes jobs with their targets and events (the foreign keys cascade). */
  remove(ids: readonly string[]): void {
    if (ids.length > 0) this.db.delete(jobs).where(inArray(jobs.id, [...ids])).run();
  }

  withStatus(statuses: readonly JobStatus[]): JobRow[] {
    return this.db.select().from(jobs).where(inArray(jobs.status, statuses)).all();
  }

  /** Newest first; the cursor is the position of the last job of the previous page. */
  list(filter: JobListFilter, limit: number, after?: JobPosition): JobRecord[] {
    const shape = `status=${Boolean(filter.status)} kind=${Boolean(filter.kind)} targetType=${Boolean(filter.targetType)} targetId=${Boolean(filter.targetId)} after=${Boolean(after)}`;
    const statement = this.pages.of(shape, () => {
      const conditions: SQL[] = [];
      if (filter.status) conditions.push(eq(jobs.status, sql.placeholder('status')));
      if (filter.kind) conditions.push(eq(jobs.kind, sql.placeholder('kind')));
      const targetFilter = this.targetCondition(filter);
      if (targetFilter) conditions.push(targetFilter);
      // A row value, which SQLite seeks to in the (created_at, id) indexes: page N costs what page 1 does.
      // Spelt as created_at < ? or (created_at = ? and id < ?), the same rows, it scans from the newest job.
      if (after) conditions.push(sql`(${jobs.createdAt}, ${jobs.id}) < (${sql.placeholder('afterCreatedAt')}, ${sql.placeholder('afterId')})`);
      return prepareRows(this.db, jobColumns, (select) =>
        select
          .from(jobs)
          .where(and(...conditions))
          .orderBy(desc(jobs.createdAt), desc(jobs.id))
          .limit(limitPlaceholder()),
      );
    });
    const rows = statement.all({ ...filter, afterCreatedAt: after?.createdAt, afterId: after?.id, limit });
    return this.withTargets(rows);
  }

  appendEvent(jobId: string, type: JobEventRow['type'], data: JobEventRow['data'], at: string): JobEventRow {
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

  private activeWhere(condition: SQL | undefined): JobRow | undefined {
    const found = this.db
      .select({ job: jobs })
      .from(jobTargets)
      .innerJoin(jobs, eq(jobs.id, jobTargets.jobId))
      .where(and(condition, eq(jobTargets.active, true)))
      .get();
    return found?.job;
  }

  /** With placeholders for the filter's targetType and targetId. */
  private targetCondition(filter: JobListFilter): SQL | undefined {
    if (!filter.targetType && !filter.targetId) return undefined;
    const matching = [eq(jobTargets.jobId, jobs.id)];
    if (filter.targetType) matching.push(eq(jobTargets.type, sql.placeholder('targetType')));
    if (filter.targetId) matching.push(eq(jobTargets.targetId, sql.placeholder('targetId')));
    const hasTarget = exists(this.db.select({ one: sql`1` }).from(jobTargets).where(and(...matching)));
    // A selection has no id, so only a type alone can match it.
    if (filter.targetId || !filter.targetType) return hasTarget;
    return or(hasTarget, eq(jobs.selectionType, sql.placeholder('targetType')));
  }

  /** The targets of a page of jobs in one query. */
  private withTargets(rows: JobRow[]): JobRecord[] {
    if (rows.length === 0) return [];
    const targets = new Map<string, JobTargetRow[]>();
    for (const target of this.targetsOfSome().all({ jobIds: JSON.stringify(rows.map((row) => row.id)) })) {
      const ofJob = targets.get(target.jobId);
      if (ofJob) ofJob.push(target);
      else targets.set(target.jobId, [target]);
    }
    return rows.map((row) => ({ ...row, targets: targets.get(row.id) ?? [] }));
  }
}
