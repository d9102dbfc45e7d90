import { eq, getTableColumns } from 'drizzle-orm';
import type { Db } from '../database.js';
import { images } from '../schema.js';
import { dataStamp } from './data-stamp.js';
import { inJsonArray, once, prepareRows, namedReads, type NamedReads } from './prepared.js';

const imageColumns = getTableColumns(images);

export type ImageRow = typeof images.$inferSelect;
export type ImageSummary = Pick<ImageRow, 'id' | 'name' | 'services'>;

export class ImageRepository {
  // The reads on a request's path, prepared once; writes are built per call.
  private readonly named: NamedReads<ImageRow>;
  private readonly summariesByIds = once(() =>
    prepareRows(this.db, { id: images.id, name: images.name, services: images.services }, (select) => select.from(images).where(inJsonArray(images.id, 'ids'))),
  );
  constructor(private readonly db: Db) {
    this.named = namedReads(db, images, imageColumns, images);
  }

  /** Changes whenever any table may have changed (data-stamp.ts): what kept answers of image lists are checked against. */
  dataStamp(): string {
    return dataStamp(this.db)();
  }

  findByIdOrName(idOrName: string): ImageRow | undefined {
    return this.named.byIdOrName(idOrName);
  }

  findByName(name: string): ImageRow | undefined {
    return this.named.byName(name);
  }

  /** Name and services of the images with these ids (those that exist), in one query: what a page of VMs or snapshots shows of theirs. */
  summariesOf(ids: string[]): ImageSummary[] {
    if (ids.length === 0) return [];
    return this.summariesByIds().all({ ids: JSON.stringify(ids) });
  }

  /** Pages ordered by name; the cursor is the last name of the previous page. */
  list(limit: number, afterName?: string): ImageRow[] {
    return this.named.page(limit, afterName);
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
