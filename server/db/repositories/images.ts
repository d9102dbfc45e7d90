import { asc, eq, gt, or } from 'drizzle-orm';
import type { Db } from '../database.js';
import { images } from '../schema.js';

export type ImageRow = typeof images.$inferSelect;

export class ImageRepository {
  constructor(private readonly db: Db) {}

  findByIdOrName(idOrName: string): ImageRow | undefined {
    return this.db
      .select()
      .from(images)
      .where(or(eq(images.id, idOrName), eq(images.name, idOrName)))
      .orderBy(asc(images.name))
      .get();
  }

  findByName(name: string): ImageRow | undefined {
    return this.db.select().from(images).where(eq(images.name, name)).get();
  }

  /** Pages ordered by name; the cursor is the last name of the previous page. */
  list(limit: number, afterName?: string): ImageRow[] {
    const query = this.db.select().from(images);
    const filtered = afterName === undefined ? query : query.where(gt(images.name, afterName));
    return filtered.orderBy(asc(images.name)).limit(limit).all();
  }

  all(): ImageRow[] {
    return this.db.select().from(images).all();
  }

  upsert(row: ImageRow): void {
    const { id: _id, ...rest } = row;
    this.db.insert(images).values(row).onConflictDoUpdate({ target: images.id, set: rest }).run();
  }

  delete(id: string): void {
    this.db.delete(images).where(eq(images.id, id)).run();
  }
}
