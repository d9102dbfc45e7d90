import { asc, eq, getTableColumns, gt, or, sql } from 'drizzle-orm';
import type { Db } from '../database.js';
import { images } from '../schema.js';
import { inJsonArray, limitPlaceholder, once, prepareRows } from './prepared.js';

const imageColumns = getTableColumns(images);

export type ImageRow = typeof images.$inferSelect;
export type ImageSummary = Pick<ImageRow, 'id' | 'name' | 'services'>;

export class ImageRepository {
  // The reads on a request's path, prepared once; writes are built per call.
  private readonly byIdOrName = once(() =>
    prepareRows(this.db, imageColumns, (select) =>
      select
        .from(images)
        .where(or(eq(images.id, sql.placeholder('idOrName')), eq(images.name, sql.placeholder('idOrName'))))
        // The row whose id it is first: an id always means its resource (names cannot look like ids, older rows may).
        .orderBy(sql`${images.id} = ${sql.placeholder('idOrName')} desc`),
    ),
  );
  private readonly byName = once(() => prepareRows(this.db, imageColumns, (select) => select.from(images).where(eq(images.name, sql.placeholder('name')))));
  private readonly summariesByIds = once(() =>
    prepareRows(this.db, { id: images.id, name: images.name, services: images.services }, (select) => select.from(images).where(inJsonArray(images.id, 'ids'))),
  );
  private readonly firstPage = once(() => prepareRows(this.db, imageColumns, (select) => select.from(images).orderBy(asc(images.name)).limit(limitPlaceholder())));
  private readonly nextPage = once(() =>
    prepareRows(this.db, imageColumns, (select) =>
      select
        .from(images)
        .where(gt(images.name, sql.placeholder('afterName')))
        .orderBy(asc(images.name))
        .limit(limitPlaceholder()),
    ),
  );

  constructor(private readonly db: Db) {}

  findByIdOrName(idOrName: string): ImageRow | undefined {
    return this.byIdOrName().get({ idOrName });
  }

  findByName(name: string): ImageRow | undefined {
    return this.byName().get({ name });
  }

  /** Name and services of the images with these ids (those that exist), in one query: what a page of VMs or snapshots shows of theirs. */
  summariesOf(ids: string[]): ImageSummary[] {
    if (ids.length === 0) return [];
    return this.summariesByIds().all({ ids: JSON.stringify(ids) });
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
