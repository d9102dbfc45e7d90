import { and, asc, count, eq, getTableColumns, gt, inArray, isNotNull, lte, sql, type SQL } from 'drizzle-orm';
import type { VmState } from '../../domain/vm.js';
import type { Db } from '../database.js';
import { vmPorts, vms } from '../schema.js';
import { dataStamp } from './data-stamp.js';
import { inJsonArray, limitPlaceholder, once, prepareRows, StatementsByShape, type Prepared, namedReads, type NamedReads } from './prepared.js';

const vmPortColumns = getTableColumns(vmPorts);
const vmColumns = getTableColumns(vms);

export type VmRow = typeof vms.$inferSelect;
export type VmPortRow = typeof vmPorts.$inferSelect;

export interface VmListFilter {
  state?: VmState;
  /** Every pair must match (AND). */
  labels?: Array<{ key: string; value: string }>;
}

export class VmRepository {
  // The reads on a request's path (lists, lookups, views), prepared once; writes are built per call.
  private readonly named: NamedReads<VmRow>;
  private readonly byId = once(() => prepareRows(this.db, vmColumns, (select) => select.from(vms).where(eq(vms.id, sql.placeholder('id')))));
  private readonly pages = new StatementsByShape<VmRow>();
  private readonly selections = new StatementsByShape<VmRow>();
  private readonly portsOfOne = once(() =>
    prepareRows(this.db, vmPortColumns, (select) => select.from(vmPorts).where(eq(vmPorts.vmId, sql.placeholder('vmId'))).orderBy(asc(vmPorts.guestPort))),
  );
  private readonly portsOfSome = once(() => prepareRows(this.db, vmPortColumns, (select) => select.from(vmPorts).where(inJsonArray(vmPorts.vmId, 'vmIds')).orderBy(asc(vmPorts.guestPort))));

  constructor(private readonly db: Db) {
    this.named = namedReads(db, vms, vmColumns, vms);
  }

  /** Changes whenever any table may have changed (data-stamp.ts): what kept answers of VM lists are checked against. */
  dataStamp(): string {
    return dataStamp(this.db)();
  }

  usingImage(imageId: string): VmRow[] {
    return this.db.select().from(vms).where(eq(vms.imageId, imageId)).orderBy(asc(vms.name)).all();
  }

  insert(row: VmRow): void {
    this.db.insert(vms).values(row).run();
  }

  get(id: string): VmRow | undefined {
    return this.byId().get({ id });
  }

  findByIdOrName(idOrName: string): VmRow | undefined {
    return this.named.byIdOrName(idOrName);
  }

  findByName(name: string): VmRow | undefined {
    return this.named.byName(name);
  }

  /** Pages ordered by name; the cursor is the last name of the previous page. */
  list(filter: VmListFilter, limit: number, afterName?: string): VmRow[] {
    const after = afterName !== undefined;
    const statement = this.pages.of(`${shapeOf(filter)} after=${after}`, () => {
      const conditions = conditionsFor(filter);
      if (after) conditions.push(gt(vms.name, sql.placeholder('afterName')));
      return prepareRows(this.db, vmColumns, (select) =>
        select
          .from(vms)
          .where(and(...conditions))
          .orderBy(asc(vms.name))
          .limit(limitPlaceholder()),
      );
    });
    return statement.all({ ...valuesOf(filter), afterName, limit });
  }

  matching(filter: VmListFilter): VmRow[] {
    const statement: Prepared<VmRow> = this.selections.of(shapeOf(filter), () =>
      prepareRows(this.db, vmColumns, (select) =>
        select
          .from(vms)
          .where(and(...conditionsFor(filter)))
          .orderBy(asc(vms.name)),
      ),
    );
    return statement.all(valuesOf(filter));
  }

  withStates(states: VmState[]): VmRow[] {
    return this.db.select().from(vms).where(inArray(vms.state, states)).orderBy(asc(vms.name)).all();
  }

  all(): VmRow[] {
    return this.db.select().from(vms).orderBy(asc(vms.name)).all();
  }

  /** Every VM row, whatever its state. */
  countAll(): number {
    return this.db.select({ n: count() }).from(vms).get()?.n ?? 0;
  }

  /** How many VMs are in each state that has any: one grouped read of the state index, for the metrics. */
  countByState(): Map<VmState, number> {
    const rows = this.db.select({ state: vms.state, n: count() }).from(vms).groupBy(vms.state).all();
    return new Map(rows.map((row) => [row.state, row.n]));
  }

  expiredAt(instant: string): VmRow[] {
    return this.db
      .select()
      .from(vms)
      .where(and(isNotNull(vms.expiresAt), lte(vms.expiresAt, instant)))
      .orderBy(asc(vms.expiresAt))
      .all();
  }

  update(id: string, fields: Partial<Omit<VmRow, 'id'>>): void {
    this.db.update(vms).set(fields).where(eq(vms.id, id)).run();
  }

  /** Removes the row and, by cascade, its port reservations. */
  delete(id: string): void {
    this.db.delete(vms).where(eq(vms.id, id)).run();
  }

  portsOf(vmId: string): VmPortRow[] {
    return this.portsOfOne().all({ vmId });
  }

  /** The ports of a page of VMs in one query, ordered by guest port. */
  portsOfMany(vmIds: string[]): VmPortRow[] {
    if (vmIds.length === 0) return [];
    return this.portsOfSome().all({ vmIds: JSON.stringify(vmIds) });
  }

  reservedHostPorts(): Set<number> {
    return new Set(this.db.select({ hostPort: vmPorts.hostPort }).from(vmPorts).all().map((row) => row.hostPort));
  }

  /** Records one reservation; false when another VM holds the host port already. */
  reservePort(row: VmPortRow): boolean {
    const result = this.db.insert(vmPorts).values(row).onConflictDoNothing().run();
    return result.changes === 1;
  }

  releasePorts(vmId: string): void {
    this.db.delete(vmPorts).where(eq(vmPorts.vmId, vmId)).run();
  }

  releasePort(vmId: string, guestPort: number): void {
    this.db.delete(vmPorts).where(and(eq(vmPorts.vmId, vmId), eq(vmPorts.guestPort, guestPort))).run();
  }
}

/** Which filters a list has: the SQL of its statement depends on nothing else. */
function shapeOf(filter: VmListFilter): string {
  return `state=${Boolean(filter.state)} labels=${filter.labels?.length ?? 0}`;
}

function conditionsFor(filter: VmListFilter): SQL[] {
  const conditions: SQL[] = [];
  if (filter.state) conditions.push(eq(vms.state, sql.placeholder('state')));
  (filter.labels ?? []).forEach((_label, i) => {
    // Key and value are bound parameters, compared with each label: no JSON path to escape.
    conditions.push(
      sql`exists (select 1 from json_each(${vms.labels}) where json_each.key = ${sql.placeholder(`key${i}`)} and json_each.value = ${sql.placeholder(`value${i}`)})`,
    );
  });
  return conditions;
}

function valuesOf(filter: VmListFilter): Record<string, unknown> {
  const values: Record<string, unknown> = { state: filter.state };
  (filter.labels ?? []).forEach(({ key, value }, i) => {
    values[`key${i}`] = key;
    values[`value${i}`] = value;
  });
  return values;
}
