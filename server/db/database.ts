import Sqlite from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { join } from 'node:path';
import { projectRoot } from '../project-root.js';
import * as schema from './schema.js';

/** Drizzle over the connection; `$client` is the better-sqlite3 connection itself (prepared reads use it). */
export type Db = BetterSQLite3Database<typeof schema> & { $client: Sqlite.Database };

export interface Database {
  db: Db;
  sqlite: Sqlite.Database;
  close(): void;
}

/** Opens (creating if needed) the SQLite file and brings its schema up to date. */
export function openDatabase(file: string): Database {
  const sqlite = new Sqlite(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('synchronous = NORMAL');
  const db = drizzle(sqlite, { schema });
  migrate(db, { migrationsFolder: join(projectRoot, 'migrations') });
  return { db, sqlite, close: () => sqlite.close() };
}
