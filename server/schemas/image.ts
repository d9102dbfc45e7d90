import { Type, type Static } from '@sinclair/typebox';
import { ref } from './common.js';

const nullableString = (description?: string) =>
  Type.Union([Type.String(), Type.Null()], description ? { description } : {});

export const imageNamePattern = '^[A-Za-z0-9][A-Za-z0-9._-]*$';

export const ImageNameSchema = Type.String({
  minLength: 1,
  maxLength: 63,
  pattern: imageNamePattern,
  description: '1-63 letters, digits, ".", "_" or "-", starting with a letter or digit',
});

export const ImageSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    managed: Type.Boolean({ description: "True when the artifacts live in banger's artifact dir and are deleted with the image" }),
    artifactDir: nullableString(),
    rootfsPath: Type.String(),
    workSeedPath: nullableString(),
    kernelPath: Type.String(),
    initrdPath: nullableString(),
    modulesDir: nullableString(),
    packagesPath: nullableString(),
    packagesSha256: nullableString('sha256 of the sorted, trimmed, deduplicated package list'),
    buildSize: nullableString(),
    seededSshPublicKeyFingerprint: nullableString("Fingerprint of the daemon's SSH key seeded into the work seed"),
    docker: Type.Boolean(),
    warmSnapshot: Type.Union(
      [Type.Object({ id: Type.String(), href: Type.String() }, { additionalProperties: false }), Type.Null()],
      { description: 'The snapshot creates from this image restore by default (POST /images/{idOrName}/warm); null when there is none' },
    ),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
    href: Type.String(),
  },
  { $id: 'Image', additionalProperties: false },
);

export const ImageListSchema = Type.Object(
  {
    items: Type.Array(ref(ImageSchema)),
    nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as ?cursor= for the next page; null on the last' }),
  },
  { $id: 'ImageList', additionalProperties: false },
);

const absolutePath = (description: string) => Type.String({ minLength: 1, maxLength: 4096, description });

export const RegisterImageBodySchema = Type.Object(
  {
    name: ImageNameSchema,
    rootfsPath: absolutePath('Absolute path of an ext4 rootfs image'),
    kernelPath: Type.Optional(absolutePath('Absolute path of the kernel; defaults to the daemon\'s default kernel')),
    workSeedPath: Type.Optional(absolutePath('Absolute path of the work-seed ext4 image; found beside the rootfs when omitted')),
    initrdPath: Type.Optional(absolutePath('Absolute path of the initrd')),
    modulesDir: Type.Optional(absolutePath('Absolute path of the kernel modules directory')),
    packagesPath: Type.Optional(absolutePath('Absolute path of the packages manifest, one package a line')),
    docker: Type.Optional(Type.Boolean({ default: false })),
  },
  { $id: 'RegisterImageRequest', additionalProperties: false },
);
export type RegisterImageBody = Static<typeof RegisterImageBodySchema>;

export const imageSchemas = [ImageSchema, ImageListSchema, RegisterImageBodySchema];
