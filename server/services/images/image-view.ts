import type { Static } from '@sinclair/typebox';
import type { ImageRow } from '../../db/repositories/images.js';
import type { ImageSchema } from '../../schemas/image.js';

export type Image = Static<typeof ImageSchema>;

export function imageView(row: ImageRow): Image {
  const { warmSnapshotId, ...fields } = row;
  return {
    ...fields,
    warmSnapshot: warmSnapshotId === null ? null : { id: warmSnapshotId, href: `/snapshots/${warmSnapshotId}` },
    href: `/images/${row.id}`,
  };
}
