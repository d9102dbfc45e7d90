import type { Snapshot } from './snapshot-view.js';
import type { SnapshotStore } from './snapshot-store.js';
import type { StorageGuard } from '../storage/storage-guard.js';

/**
 * The snapshot catalogue: list, show, delete. Taking a snapshot and restoring one are VM
 * operations (services/vms). Knows nothing of HTTP.
 */
export class SnapshotService {
  constructor(
    private readonly store: SnapshotStore,
    private readonly storage: StorageGuard,
  ) {}

  list(limit: number, afterName?: string): Snapshot[] {
    return this.store.views(this.store.repository.list(limit, afterName));
  }

  /** Moves whenever a page of list() may show something else (any write to the database). */
  listStamp(): string {
    return this.store.repository.dataStamp();
  }

  get(idOrName: string): Snapshot {
    return this.store.view(this.store.find(idOrName));
  }

  /** Removes its files; refused (snapshot-in-use) while VMs or snapshots stand on its layers. */
  async delete(idOrName: string): Promise<Snapshot> {
    const row = this.store.find(idOrName);
    this.storage.makeRoom('a delete');
    const before = this.store.view(row);
    await this.store.remove(row);
    return before;
  }
}
