import { asc, eq } from 'drizzle-orm';
import type { Db } from '../database.js';
import { vms } from '../schema.js';

export type VmRow = typeof vms.$inferSelect;

export class VmRepository {
  constructor(private readonly db: Db) {}

  usingImage(imageId: string): VmRow[] {
    return this.db.select().from(vms).where(eq(vms.imageId, imageId)).orderBy(asc(vms.name)).all();
  }

  insert(row: VmRow): void {
    this.db.insert(vms).values(row).run();
  }
}
