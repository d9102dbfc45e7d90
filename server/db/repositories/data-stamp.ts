import type { Db } from '../database.js';

/** What changes whenever the database may hold other data: see dataStamp. */
export type DataStamp = () => string;

const stamps = new WeakMap<object, DataStamp>();

/**
 * A stamp of the whole database (every table) that changes whenever its data may have changed, so
 * that an answer made from it can be kept until then: `total_changes()` counts every row an insert,
 * update or delete on this connection touched (a write rolled back too, which only costs a
 * rebuild), and `data_version` moves when another connection commits. Nothing here can tell
 * which table changed: any write ends every kept answer. Prepared once per connection.
 */
export function dataStamp(db: Db): DataStamp {
  const connection = db.$client;
  let stamp = stamps.get(connection);
  if (!stamp) {
    // Two statements: PRAGMA itself is ~1 µs cheaper than the pragma_data_version table in one select.
    const changes = connection.prepare('select total_changes()').pluck(true);
    const version = connection.prepare('pragma data_version').pluck(true);
    stamp = () => `${changes.get() as number}.${version.get() as number}`;
    stamps.set(connection, stamp);
  }
  return stamp;
}
