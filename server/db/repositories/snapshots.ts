import { asc, eq, gt, or } from 'drizzle-orm';
import type { Db } from '../database.js';
import { snapshots, vms } from '../schema.js';

export type SnapshotRow = typeof snapshots.$inferSelect;

export class SnapshotRepository {
  constructor(private readonly db: Db) {}

  insert(row: SnapshotRow): void {
    this.db.insert(snapshots).values(row).run();
  }

  get(id: string): SnapshotRow | undefined {
    return this.db.select().from(snapshots).where(eq(snapshots.id, id)).get();
  }

  findByIdOrName(idOrName: string): SnapshotRow | undefined {
    return this.db
      .select()
      .from(snapshots)
      .where(or(eq(snapshots.id, idOrName), eq(snapshots.name, idOrName)))
      .orderBy(asc(snapshots.name))
      .get();
  }

  findByName(name: string): SnapshotRow | undefined {
    return this.db.select().from(snapshots).where(eq(snapshots.name, name)).get();
  }

  /** Pages ordered by name; the cursor is the last name of the previous page. */
  list(limit: number, afterName?: string): SnapshotRow[] {
    const query = this.db.select().from(snapshots);
    const filtered = afterName === undefined ? query : query.where(gt(snapshots.name, afterName));
    return filtered.orderBy(asc(snapshots.name)).limit(limit).all();
  }

  all(): SnapshotRow[] {
    return this.db.select().from(snapshots).all();
  }

  ofImage(imageId: string): SnapshotRow[] {
    return this.db.select().from(snapshots).where(eq(snapshots.imageId, imageId)).orderBy(asc(snapshots.name)).all();
  }

  /** What stands on a snapshot's layers: VMs and later snapshots. */
  dependents(id: string): { vms: Array<{ id: string; name: string }>; snapshots: Array<{ id: string; name: string }> } {
    return {
      vms: this.db.select({ id: vms.id, name: vms.name }).from(vms).where(eq(vms.baseSnapshotId, id)).orderBy(asc(vms.name)).all(),
      snapshots: this.db
        .select({ id: snapshots.id, name: snapshots.name })
        .from(snapshots)
        .where(eq(snapshots.baseSnapshotId, id))
        .orderBy(asc(snapshots.name))
        .all(),
    };
  }

  update(id: string, fields: Partial<Omit<SnapshotRow, 'id'>>): void {
    this.db.update(snapshots).set(fields).where(eq(snapshots.id, id)).run();
  }

  delete(id: string): void {
    this.db.delete(snapshots).where(eq(snapshots.id, id)).run();
  }
}
