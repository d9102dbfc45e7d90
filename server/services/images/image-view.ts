import type { Static } from '@sinclair/typebox';
import type { ImageRow } from '../../db/repositories/images.js';
import type { ImageSchema } from '../../schemas/image.js';

export type Image = Static<typeof ImageSchema>;

/** Every column but warmSnapshotId is shown as stored. */
type ShownColumn = Exclude<keyof ImageRow, 'warmSnapshotId'>;

/**
 * Field by field rather than a rest and a spread of the row, which cost more than the rest of a
 * page of images; `satisfies` makes a new column a compile error here until it is shown.
 */
export function imageView(row: ImageRow): Image {
  const { warmSnapshotId } = row;
  return {
    id: row.id,
    name: row.name,
    managed: row.managed,
    artifactDir: row.artifactDir,
    rootfsPath: row.rootfsPath,
    workSeedPath: row.workSeedPath,
    kernelPath: row.kernelPath,
    initrdPath: row.initrdPath,
    modulesDir: row.modulesDir,
    packagesPath: row.packagesPath,
    packagesSha256: row.packagesSha256,
    buildSize: row.buildSize,
    seededSshPublicKeyFingerprint: row.seededSshPublicKeyFingerprint,
    docker: row.docker,
    services: row.services,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    warmSnapshot: warmSnapshotId === null ? null : { id: warmSnapshotId, href: `/snapshots/${warmSnapshotId}` },
    href: `/images/${row.id}`,
  } satisfies Record<ShownColumn, unknown> & Image;
}
