import { asc, eq, gt, or, sql } from 'drizzle-orm';
import type { Db } from '../database.js';
import { images } from '../schema.js';
import { inJsonArray, limitPlaceholder, once } from './prepared.js';

export type ImageRow = typeof images.$inferSelect;

export class ImageRepository {
  // The reads on a request's path, prepared once; writes are built per call.
  private readonly byIdOrName = once(() =>
    this.db
      .select()
      .from(images)
      .where(or(eq(images.id, sql.placeholder('idOrName')), eq(images.name, sql.placeholder('idOrName'))))
      .orderBy(asc(images.name))
      .prepare(),
  );
  private readonly byName = once(() => this.db.select().from(images).where(eq(images.name, sql.placeholder('name'))).prepare());
  private readonly byIds = once(() => this.db.select().from(images).where(inJsonArray(images.id, 'ids')).prepare());
  private readonly firstPage = once(() => this.db.select().from(images).orderBy(asc(images.name)).limit(limitPlaceholder()).prepare());
  private readonly nextPage = once(() =>
    this.db
      .select()
      .from(images)
      .where(gt(images.name, sql.placeholder('afterName')))
      .orderBy(asc(images.name))
      .limit(limitPlaceholder())
      .prepare(),
  );

  constructor(private readonly db: Db) {}

  findByIdOrName(idOrName: string): ImageRow | undefined {
    return this.byIdOrName().get({ idOrName });
  }

  findByName(name: string): ImageRow | undefined {
    return this.byName().get({ name });
  }

  /** The images with these ids (those that exist), in one query: what a page of VMs shows of theirs. */
  withIds(ids: string[]): ImageRow[] {
    if (ids.length === 0) return [];
    return this.byIds().all({ ids: JSON.stringify(ids) });
  }

  /** Pages ordered by name; the cursor is the last name of the previous page. */
  list(limit: number, afterName?: string): ImageRow[] {
    return afterName === undefined ? this.firstPage().all({ limit }) : this.nextPage().all({ afterName, limit });
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
