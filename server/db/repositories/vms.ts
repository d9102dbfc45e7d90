import { and, asc, count, eq, gt, inArray, isNotNull, lte, notInArray, or, sql, type SQL } from 'drizzle-orm';
import type { VmState } from '../../domain/vm.js';
import type { Db } from '../database.js';
import { vmPorts, vms } from '../schema.js';

export type VmRow = typeof vms.$inferSelect;
export type VmPortRow = typeof vmPorts.$inferSelect;

export interface VmListFilter {
  state?: VmState;
  /** Every pair must match (AND). */
  labels?: Array<{ key: string; value: string }>;
}

export class VmRepository {
  constructor(private readonly db: Db) {}

  usingImage(imageId: string): VmRow[] {
    return this.db.select().from(vms).where(eq(vms.imageId, imageId)).orderBy(asc(vms.name)).all();
  }

  insert(row: VmRow): void {
    this.db.insert(vms).values(row).run();
  }

  get(id: string): VmRow | undefined {
    return this.db.select().from(vms).where(eq(vms.id, id)).get();
  }

  findByIdOrName(idOrName: string): VmRow | undefined {
    return this.db
      .select()
      .from(vms)
      .where(or(eq(vms.id, idOrName), eq(vms.name, idOrName)))
      .orderBy(asc(vms.name))
      .get();
  }

  findByName(name: string): VmRow | undefined {
    return this.db.select().from(vms).where(eq(vms.name, name)).get();
  }

  /** Pages ordered by name; the cursor is the last name of the previous page. */
  list(filter: VmListFilter, limit: number, afterName?: string): VmRow[] {
    const conditions = this.conditionsFor(filter);
    if (afterName !== undefined) conditions.push(gt(vms.name, afterName));
    return this.db
      .select()
      .from(vms)
      .where(and(...conditions))
      .orderBy(asc(vms.name))
      .limit(limit)
      .all();
  }

  matching(filter: VmListFilter): VmRow[] {
    return this.db
      .select()
      .from(vms)
      .where(and(...this.conditionsFor(filter)))
      .orderBy(asc(vms.name))
      .all();
  }

  withStates(states: VmState[]): VmRow[] {
    return this.db.select().from(vms).where(inArray(vms.state, states)).orderBy(asc(vms.name)).all();
  }

  all(): VmRow[] {
    return this.db.select().from(vms).orderBy(asc(vms.name)).all();
  }

  /** VMs that hold resources (disks, ports, maybe a process): every state but failed. */
  countHoldingResources(): number {
    return this.db.select({ n: count() }).from(vms).where(notInArray(vms.state, ['failed'])).get()?.n ?? 0;
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
    return this.db.select().from(vmPorts).where(eq(vmPorts.vmId, vmId)).orderBy(asc(vmPorts.guestPort)).all();
  }

  portsOfMany(vmIds: string[]): VmPortRow[] {
    if (vmIds.length === 0) return [];
    return this.db.select().from(vmPorts).where(inArray(vmPorts.vmId, vmIds)).orderBy(asc(vmPorts.guestPort)).all();
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

  private conditionsFor(filter: VmListFilter): SQL[] {
    const conditions: SQL[] = [];
    if (filter.state) conditions.push(eq(vms.state, filter.state));
    for (const { key, value } of filter.labels ?? []) {
      // Key and value are bound parameters, compared with each label: no JSON path to escape.
      conditions.push(sql`exists (select 1 from json_each(${vms.labels}) where json_each.key = ${key} and json_each.value = ${value})`);
    }
    return conditions;
  }
}
