import { Type, type Static } from '@sinclair/typebox';
import { maxServiceCommandLength, maxServices, serviceNamePattern, serviceUserPattern } from '../domain/image.js';
import { cursorString, href, idString, maxPageSize, nameString, nullable, pathString, tcpPort, text, timestamp } from './bounds.js';
import { ref } from './common.js';

const nullablePath = () => nullable(pathString());

export const imageNamePattern = '^[A-Za-z0-9][A-Za-z0-9._-]*$';

export const ImageNameSchema = Type.String({
  minLength: 1,
  maxLength: 63,
  pattern: imageNamePattern,
  description: '1-63 letters, digits, ".", "_" or "-", starting with a letter or digit; never 16 lowercase hex digits, the shape of an id (422)',
});

const serviceFields = {
  name: Type.String({ minLength: 1, maxLength: 32, pattern: serviceNamePattern, description: '1-32 lowercase letters, digits or "-", starting with a letter' }),
  command: Type.String({
    minLength: 1,
    maxLength: maxServiceCommandLength,
    pattern: '^[^\\u0000]+$',
    description: 'A shell command line, run by /bin/sh -c at boot; it should stay in the foreground. Its output goes to /var/log/banger/NAME.log in the guest',
  }),
};
const servicePortDescription = 'The guest TCP port it serves: VMs publish it on 127.0.0.1 and wait for it, like a requested port';
const serviceUserDescription = 'The guest user it runs as; root when absent. The image must have that user';

export const ImageServiceRequestSchema = Type.Object(
  {
    ...serviceFields,
    port: Type.Optional(tcpPort({ description: servicePortDescription })),
    user: Type.Optional(Type.String({ minLength: 1, maxLength: 32, pattern: serviceUserPattern, description: serviceUserDescription })),
  },
  { $id: 'ImageServiceRequest', additionalProperties: false },
);

export const ImageServiceSchema = Type.Object(
  {
    ...serviceFields,
    port: nullable(tcpPort(), { description: servicePortDescription }),
    user: nullable(text(32), { description: 'The guest user it runs as; null: root' }),
  },
  { $id: 'ImageService', additionalProperties: false },
);

export const ImageSchema = Type.Object(
  {
    id: idString(),
    name: nameString(),
    managed: Type.Boolean({ description: "True when the artifacts live in banger's artifact dir and are deleted with the image" }),
    artifactDir: nullablePath(),
    rootfsPath: pathString(),
    workSeedPath: nullablePath(),
    kernelPath: pathString(),
    initrdPath: nullablePath(),
    modulesDir: nullablePath(),
    packagesPath: nullablePath(),
    packagesSha256: nullable(text(64), { description: 'sha256 of the sorted, trimmed, deduplicated package list' }),
    buildSize: nullable(text(32)),
    seededSshPublicKeyFingerprint: nullable(text(128), { description: "Fingerprint of the daemon's SSH key seeded into the work seed" }),
    docker: Type.Boolean(),
    services: Type.Array(ref(ImageServiceSchema), { maxItems: maxServices, description: 'Programs the image starts at boot (POST /images/builds services)' }),
    warmSnapshot: nullable(Type.Object({ id: idString(), href: href() }, { additionalProperties: false }), {
      description: 'The snapshot creates from this image restore by default (POST /images/{idOrName}/warm); null when there is none',
    }),
    createdAt: timestamp(),
    updatedAt: timestamp(),
    href: href(),
  },
  { $id: 'Image', additionalProperties: false },
);

export const ImageListSchema = Type.Object(
  {
    items: Type.Array(ref(ImageSchema), { maxItems: maxPageSize }),
    nextCursor: nullable(cursorString(), { description: 'Pass as ?cursor= for the next page; null on the last' }),
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
    docker: Type.Optional(Type.Boolean({ description: 'The image runs Docker (default false)' })),
  },
  { $id: 'RegisterImageRequest', additionalProperties: false },
);
export type RegisterImageBody = Static<typeof RegisterImageBodySchema>;

export const imageSchemas = [ImageServiceRequestSchema, ImageServiceSchema, ImageSchema, ImageListSchema, RegisterImageBodySchema];
