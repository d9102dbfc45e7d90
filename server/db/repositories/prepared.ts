import { asc, eq, fillPlaceholders, gt, or, sql, type Placeholder, type SQL } from 'drizzle-orm';
import type { SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core';
import type { Db } from '../database.js';

/**
 * A query built and prepared once, with named placeholders (`sql.placeholder`): what a read on a
 * request's path uses, since building the SQL and preparing it cost far more than running it.
 */
export interface Prepared<Row> {
  all(values?: Record<string, unknown>): Row[];
  get(values?: Record<string, unknown>): Row | undefined;
}

/** What a select of these columns returns, as drizzle infers it (a table's row for getTableColumns). */
export type RowOf<Fields extends Record<string, SQLiteColumn>> = {
  [Key in keyof Fields]: Fields[Key]['_']['notNull'] extends true ? Fields[Key]['_']['data'] : Fields[Key]['_']['data'] | null;
};

const selectOf = <Fields extends Record<string, SQLiteColumn>>(db: Db, fields: Fields) => db.select(fields);

/**
 * A select of `fields`, its SQL built by drizzle once (`build` gets `db.select(fields)`), prepared
 * on the connection and run by better-sqlite3 in raw mode: each row is decoded column by column
 * with the column's own mapFromDriverValue (JSON, booleans), as drizzle's prepared queries do, but
 * without their per-cell bookkeeping, a third of a page's read time. The statement's result
 * columns are checked against `fields` when it is prepared.
 */
export function prepareRows<Fields extends Record<string, SQLiteColumn>>(
  db: Db,
  fields: Fields,
  build: (select: ReturnType<typeof selectOf<Fields>>) => { toSQL(): { sql: string; params: unknown[] } },
): Prepared<RowOf<Fields>> {
  const query = build(selectOf(db, fields)).toSQL();
  const statement = db.$client.prepare(query.sql).raw(true);
  const keys = Object.keys(fields);
  const columns = keys.map((key) => fields[key] as SQLiteColumn);
  const resultColumns = statement.columns();
  if (resultColumns.length !== keys.length || resultColumns.some((result, i) => result.column !== null && result.column !== columns[i]?.name)) {
    throw new Error(`prepareRows: the statement's columns (${resultColumns.map((result) => result.column).join(', ')}) are not the fields ${keys.join(', ')}: ${query.sql}`);
  }
  const decode = (values: unknown[]): RowOf<Fields> => {
    const row: Record<string, unknown> = {};
    for (let i = 0; i < keys.length; i++) {
      const value = values[i];
      row[keys[i] as string] = value === null ? null : (columns[i] as SQLiteColumn).mapFromDriverValue(value);
    }
    return row as RowOf<Fields>;
  };
  return {
    all: (values = {}) => (statement.all(...fillPlaceholders(query.params, values)) as unknown[][]).map(decode),
    get: (values = {}) => {
      const found = statement.get(...fillPlaceholders(query.params, values)) as unknown[] | undefined;
      return found === undefined ? undefined : decode(found);
    },
  };
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

/** The columns every named resource (image, snapshot, VM) has. */
interface NamedColumns {
  id: SQLiteColumn;
  name: SQLiteColumn;
}

/** The reads every named resource's repository makes, each prepared on first use. */
export interface NamedReads<Row> {
  /** By id, else by name; the row whose id it is first: an id always means its resource (names cannot look like ids, older rows may). */
  byIdOrName(idOrName: string): Row | undefined;
  byName(name: string): Row | undefined;
  /** A page ordered by name; the cursor is the last name of the previous page. */
  page(limit: number, afterName?: string): Row[];
}

export function namedReads<Fields extends Record<string, SQLiteColumn>>(db: Db, table: SQLiteTable, fields: Fields, { id, name }: NamedColumns): NamedReads<RowOf<Fields>> {
  // Selected as a plain record: drizzle cannot type a select over fields it only knows generically.
  const looseFields: Record<string, SQLiteColumn> = fields;
  const byIdOrName = once(() =>
    prepareRows(db, looseFields, (select) =>
      select
        .from(table)
        .where(or(eq(id, sql.placeholder('idOrName')), eq(name, sql.placeholder('idOrName'))))
        .orderBy(sql`${id} = ${sql.placeholder('idOrName')} desc`),
    ),
  );
  const byName = once(() => prepareRows(db, looseFields, (select) => select.from(table).where(eq(name, sql.placeholder('name')))));
  const firstPage = once(() => prepareRows(db, looseFields, (select) => select.from(table).orderBy(asc(name)).limit(limitPlaceholder())));
  const nextPage = once(() =>
    prepareRows(db, looseFields, (select) => select.from(table).where(gt(name, sql.placeholder('afterName'))).orderBy(asc(name)).limit(limitPlaceholder())),
  );
  type Row = RowOf<Fields>;
  return {
    byIdOrName: (value) => byIdOrName().get({ idOrName: value }) as Row | undefined,
    byName: (value) => byName().get({ name: value }) as Row | undefined,
    page: (limit, afterName) => (afterName === undefined ? firstPage().all({ limit }) : nextPage().all({ afterName, limit })) as Row[],
  };
}
