import { sql, type Placeholder, type SQL } from 'drizzle-orm';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';

/**
 * A query built and prepared once, with named placeholders (`sql.placeholder`): what a read on a
 * request's path uses, since building the SQL and preparing it cost far more than running it.
 */
export interface Prepared<Row> {
  all(values?: Record<string, unknown>): Row[];
  get(values?: Record<string, unknown>): Row | undefined;
}

/** Made on first use (after the migrations, whatever order the repositories are made in) and kept. */
export function once<T>(make: () => T): () => T {
  let made: T | undefined;
  return () => (made ??= make());
}

/**
 * Prepared statements of one query whose SQL depends on which filters a request has (a state,
 * labels, a cursor): one statement per shape, made on first use. Shapes are few (each filter is
 * there or not; labels are limited by the schemas); past `maxShapes` a statement is built for the
 * call and dropped, so that no caller can grow the cache without bound.
 */
export class StatementsByShape<Row> {
  private readonly byShape = new Map<string, Prepared<Row>>();

  constructor(private readonly maxShapes = 64) {}

  of(shape: string, make: () => Prepared<Row>): Prepared<Row> {
    const known = this.byShape.get(shape);
    if (known) return known;
    const made = make();
    if (this.byShape.size < this.maxShapes) this.byShape.set(shape, made);
    return made;
  }
}

/**
 * `column IN (the values of a JSON array)`, so that one prepared statement serves any number of
 * values: pass `JSON.stringify(values)` as the placeholder.
 */
export function inJsonArray(column: SQLiteColumn, placeholder: string): SQL {
  return sql`${column} in (select value from json_each(${sql.placeholder(placeholder)}))`;
}

/**
 * A page's LIMIT as a placeholder that SQLite does not plan with. A bare bound LIMIT (`limit ?`)
 * is one SQLite's planner reads (better-sqlite3 builds it with STAT4), so binding it expires the
 * statement and every run prepares it again: ~25 µs instead of ~2.5 µs for a page of an empty
 * table, measured. A cast is an expression, which the planner leaves alone; the rows are the same.
 * (Typed as a Placeholder because drizzle's limit() takes only those, and embeds any SQL.)
 */
export function limitPlaceholder(name = 'limit'): Placeholder {
  return sql`cast(${sql.placeholder(name)} as integer)` as unknown as Placeholder;
}
