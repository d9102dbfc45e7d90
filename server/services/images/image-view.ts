import type { ImageRow } from '../../db/repositories/images.js';

export interface Image {
  id: string;
  name: string;
  managed: boolean;
  artifactDir: string | null;
  rootfsPath: string;
  workSeedPath: string | null;
  kernelPath: string;
  initrdPath: string | null;
  modulesDir: string | null;
  packagesPath: string | null;
  packagesSha256: string | null;
  buildSize: string | null;
  seededSshPublicKeyFingerprint: string | null;
  docker: boolean;
  createdAt: string;
  updatedAt: string;
  href: string;
}

export function imageView(row: ImageRow): Image {
  return { ...row, href: `/images/${row.id}` };
}
