import { asc, eq, getTableColumns, sql } from 'drizzle-orm';
import type { Db } from '../database.js';
import { snapshots, vms } from '../schema.js';
import { dataStamp } from './data-stamp.js';
import { inJsonArray, once, prepareRows, namedReads, type NamedReads } from './prepared.js';

const snapshotColumns = getTableColumns(snapshots);

export type SnapshotRow = typeof snapshots.$inferSelect;

/** What stands on a snapshot's layers: VMs and later snapshots, each ordered by name. */
export interface SnapshotDependents {
  vms: Array<{ id: string; name: string }>;
  snapshots: Array<{ id: string; name: string }>;
}

export class SnapshotRepository {
  // The reads on a request's path, prepared once; writes are built per call.
  private readonly named: NamedReads<SnapshotRow>;
  private readonly byId = once(() => prepareRows(this.db, snapshotColumns, (select) => select.from(snapshots).where(eq(snapshots.id, sql.placeholder('id')))));
  private readonly namesByIds = once(() => prepareRows(this.db, { id: snapshots.id, name: snapshots.name }, (select) => select.from(snapshots).where(inJsonArray(snapshots.id, 'ids'))));
  private readonly vmsOn = once(() =>
    prepareRows(this.db, { id: vms.id, name: vms.name, on: vms.baseSnapshotId }, (select) =>
      select
        .from(vms)
        .where(inJsonArray(vms.baseSnapshotId, 'ids'))
        .orderBy(asc(vms.name)),
    ),
  );
  private readonly snapshotsOn = once(() =>
    prepareRows(this.db, { id: snapshots.id, name: snapshots.name, on: snapshots.baseSnapshotId }, (select) =>
      select
        .from(snapshots)
        .where(inJsonArray(snapshots.baseSnapshotId, 'ids'))
        .orderBy(asc(snapshots.name)),
    ),
  );

  constructor(private readonly db: Db) {
    this.named = namedReads(db, snapshots, snapshotColumns, snapshots);
  }

  /** Changes whenever any table may have changed (data-stamp.ts): what kept answers of snapshot lists are checked against. */
  dataStamp(): string {
    return dataStamp(this.db)();
  }

  insert(row: SnapshotRow): void {
    this.db.insert(snapshots).values(row).run();
  }

  get(id: string): SnapshotRow | undefined {
    return this.byId().get({ id });
  }

  findByIdOrName(idOrName: string): SnapshotRow | undefined {
    return this.named.byIdOrName(idOrName);
  }

  findByName(name: string): SnapshotRow | undefined {
    return this.named.byName(name);
  }

  /** Pages ordered by name; the cursor is the last name of the previous page. */
  list(limit: number, afterName?: string): SnapshotRow[] {
    return this.named.page(limit, afterName);
  }

  all(): SnapshotRow[] {
    return this.db.select().from(snapshots).all();
  }

  /** The names of the snapshots with these ids (those that exist), in one query. */
  namesOf(ids: string[]): Array<{ id: string; name: string }> {
    if (ids.length === 0) return [];
    return this.namesByIds().all({ ids: JSON.stringify(ids) });
  }

  ofImage(imageId: string): SnapshotRow[] {
    return this.db.select().from(snapshots).where(eq(snapshots.imageId, imageId)).orderBy(asc(snapshots.name)).all();
  }

  /** What stands on a snapshot's layers: VMs and later snapshots. */
  dependents(id: string): SnapshotDependents {
    return this.dependentsOfMany([id]).get(id) ?? { vms: [], snapshots: [] };
  }

  /** The dependents of a page of snapshots in two queries, by snapshot id; a snapshot without any has no entry. */
  dependentsOfMany(ids: string[]): Map<string, SnapshotDependents> {
    const found = new Map<string, SnapshotDependents>();
    if (ids.length === 0) return found;
    const entryOf = (id: string): SnapshotDependents => {
      let entry = found.get(id);
      if (!entry) found.set(id, (entry = { vms: [], snapshots: [] }));
      return entry;
    };
    const values = { ids: JSON.stringify(ids) };
    for (const { id, name, on } of this.vmsOn().all(values)) entryOf(on as string).vms.push({ id, name });
    for (const { id, name, on } of this.snapshotsOn().all(values)) entryOf(on as string).snapshots.push({ id, name });
    return found;
  }

  update(id: string, fields: Partial<Omit<SnapshotRow, 'id'>>): void {
    this.db.update(snapshots).set(fields).where(eq(snapshots.id, id)).run();
  }

  delete(id: string): void {
    this.db.delete(snapshots).where(eq(snapshots.id, id)).run();
  }
}
