import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ImageRepository } from '../../db/repositories/images.js';
import type { JobRepository } from '../../db/repositories/jobs.js';
import type { SnapshotRepository, SnapshotRow } from '../../db/repositories/snapshots.js';
import { removeTree } from '../../host/remove-tree.js';
import { BangerError } from '../errors.js';
import { now } from '../ids.js';
import { snapshotView, type Snapshot } from './snapshot-view.js';

export interface SnapshotStoreOptions {
  snapshots: SnapshotRepository;
  images: ImageRepository;
  jobRecords: JobRepository;
  /** `<state-dir>/snapshots`: one dir per snapshot. */
  snapshotsDir: string;
  logger: Logger;
}

/** Snapshot rows and their dirs, as every service that touches snapshots needs them. */
export class SnapshotStore {
  constructor(private readonly options: SnapshotStoreOptions) {}

  get repository(): SnapshotRepository {
    return this.options.snapshots;
  }

  /** Where every snapshot dir lives. */
  get root(): string {
    return this.options.snapshotsDir;
  }

  dirFor(id: string): string {
    return join(this.options.snapshotsDir, id);
  }

  /** By id first, then by name. */
  find(idOrName: string): SnapshotRow {
    const row = this.options.snapshots.findByIdOrName(idOrName);
    if (!row) throw new BangerError('snapshot-not-found', `No snapshot with id or name "${idOrName}"`, { hint: 'list snapshots with GET /snapshots (banger snapshot ls)' });
    return row;
  }

  view(row: SnapshotRow): Snapshot {
    return this.views([row])[0] as Snapshot;
  }

  /** The views of a page of snapshots: one query each for their images, their bases and their dependents, whatever the page's size. */
  views(rows: SnapshotRow[]): Snapshot[] {
    if (rows.length === 0) return [];
    const { images, snapshots } = this.options;
    // A snapshot's imageId is an image's id (a foreign key), never a name.
    const imageNames = new Map(images.summariesOf([...new Set(rows.map((row) => row.imageId))]).map((image) => [image.id, image.name]));
    const baseIds = [...new Set(rows.flatMap((row) => (row.baseSnapshotId === null ? [] : [row.baseSnapshotId])))];
    const baseNames = new Map(snapshots.namesOf(baseIds).map((base) => [base.id, base.name]));
    const dependents = snapshots.dependentsOfMany(rows.map((row) => row.id));
    return rows.map((row) =>
      snapshotView(row, {
        imageName: imageNames.get(row.imageId) ?? null,
        baseName: row.baseSnapshotId === null ? null : (baseNames.get(row.baseSnapshotId) ?? null),
        dependents: dependents.get(row.id) ?? { vms: [], snapshots: [] },
      }),
    );
  }

  /**
   * Removes a snapshot's files and row. Refused while VMs or later snapshots stand on its disk
   * layers, or while a job works on it.
   */
  async remove(row: SnapshotRow): Promise<void> {
    this.requireRemovable(row);
    await removeTree(row.dir);
    this.options.snapshots.delete(row.id);
    this.options.logger.info({ snapshotId: row.id, name: row.name }, 'snapshot deleted');
  }

  /** A snapshot that never became whole: its files and row go, whatever it says about itself. */
  async discard(id: string): Promise<void> {
    const row = this.options.snapshots.get(id);
    if (!row) return;
    await removeTree(row.dir);
    this.options.snapshots.delete(id);
  }

  requireRemovable(row: SnapshotRow): void {
    const busy = this.options.jobRecords.activeFor('snapshot', row.id);
    if (busy) {
      throw new BangerError('resource-busy', `Snapshot ${row.name} is busy with job ${busy.id} (${busy.kind})`, { hint: `wait for it: GET /jobs/${busy.id}?wait=60` });
    }
    const { vms, snapshots } = this.options.snapshots.dependents(row.id);
    if (vms.length > 0 || snapshots.length > 0) {
      const names = [...vms.map((vm) => `VM ${vm.name}`), ...snapshots.map((snapshot) => `snapshot ${snapshot.name}`)];
      throw new BangerError('snapshot-in-use', `Snapshot ${row.name} cannot be deleted: ${names.join(', ')} stand${names.length === 1 ? 's' : ''} on its disk layers`, {
        hint: 'delete those first (banger vm rm …, banger snapshot rm …)',
      });
    }
  }

  /**
   * An image changed (reseeded) or goes away: creates must no longer restore its warm snapshot. The
   * snapshot itself goes too when nothing stands on it; otherwise it stays listed until that is so.
   */
  async dropWarm(imageId: string, why: string): Promise<void> {
    const image = this.options.images.findByIdOrName(imageId);
    if (!image?.warmSnapshotId) return;
    this.options.images.upsert({ ...image, warmSnapshotId: null, updatedAt: now() });
    const row = this.options.snapshots.get(image.warmSnapshotId);
    if (!row) return;
    try {
      await this.remove(row);
    } catch (error) {
      if (!(error instanceof BangerError)) throw error;
      this.options.logger.info({ snapshotId: row.id, why: error.message }, 'kept a dropped warm snapshot that is still in use');
    }
    this.options.logger.info({ imageId, snapshotId: row.id, why }, "dropped an image's warm snapshot");
  }
}
