import type { Db } from '../database.js';

/** What changes whenever the database may hold other data: see dataStamp. */
export type DataStamp = () => string;

const stamps = new WeakMap<object, DataStamp>();

/**
 * A stamp of the whole database (every table) that changes whenever its data may have changed, so
 * that an answer made from it can be kept until then: `total_changes()` counts every row an insert,
 * update or delete on this connection touched (a write rolled back too, which only costs a
 * rebuild), and `data_version` moves when another connection commits. Nothing here can tell
 * which table changed: any write ends every kept answer. One statement per connection.
 */
export function dataStamp(db: Db): DataStamp {
  const connection = db.$client;
  let stamp = stamps.get(connection);
  if (!stamp) {
    const statement = connection.prepare('select total_changes(), data_version from pragma_data_version').raw(true);
    stamp = () => {
      const [changes, version] = statement.get() as [number, number];
      return `${changes}.${version}`;
    };
    stamps.set(connection, stamp);
  }
  return stamp;
}
