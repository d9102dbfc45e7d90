import { and, eq, isNotNull, isNull, lt } from 'drizzle-orm';
import type { Db } from '../database.js';
import { idempotencyKeys } from '../schema.js';

export type IdempotencyRow = typeof idempotencyKeys.$inferSelect;

export class IdempotencyRepository {
  constructor(private readonly db: Db) {}

  get(key: string): IdempotencyRow | undefined {
    return this.db.select().from(idempotencyKeys).where(eq(idempotencyKeys.key, key)).get();
  }

  /** Returns false when the key is already taken (someone else got there first). */
  claim(row: Pick<IdempotencyRow, 'key' | 'method' | 'path' | 'requestHash' | 'createdAt'>): boolean {
    const result = this.db.insert(idempotencyKeys).values(row).onConflictDoNothing().run();
    return result.changes === 1;
  }

  complete(key: string, status: number, headers: Record<string, string>, body: string): void {
    this.db
      .update(idempotencyKeys)
      .set({ responseStatus: status, responseHeaders: headers, responseBody: body })
      .where(eq(idempotencyKeys.key, key))
      .run();
  }

  release(key: string): void {
    this.db.delete(idempotencyKeys).where(eq(idempotencyKeys.key, key)).run();
  }

  /** Unfinished claims cannot survive a restart: the request that made them is gone. */
  releaseUnfinished(): void {
    this.db.delete(idempotencyKeys).where(isNull(idempotencyKeys.responseStatus)).run();
  }

  /** Removes answered keys made before `createdAt`; returns how many. */
  expireBefore(createdAt: string): number {
    return this.db.delete(idempotencyKeys).where(and(lt(idempotencyKeys.createdAt, createdAt), isNotNull(idempotencyKeys.responseStatus))).run().changes;
  }
}
