import type { Snapshot } from './snapshot-view.js';
import type { SnapshotStore } from './snapshot-store.js';

/**
 * The snapshot catalogue: list, show, delete. Taking a snapshot and restoring one are VM
 * operations (services/vms). Knows nothing of HTTP.
 */
export class SnapshotService {
  constructor(private readonly store: SnapshotStore) {}

  list(limit: number, afterName?: string): Snapshot[] {
    return this.store.views(this.store.repository.list(limit, afterName));
  }

  get(idOrName: string): Snapshot {
    return this.store.view(this.store.find(idOrName));
  }

  /** Removes its files; refused (snapshot-in-use) while VMs or snapshots stand on its layers. */
  async delete(idOrName: string): Promise<Snapshot> {
    const row = this.store.find(idOrName);
    const before = this.store.view(row);
    await this.store.remove(row);
    return before;
  }
}
