import { Type, type Static } from '@sinclair/typebox';
import { recipes, type Recipe } from '../domain/image.js';
import { maxServices } from '../domain/image.js';
import { ref } from './common.js';
import { ImageNameSchema, ImageServiceRequestSchema } from './image.js';

const absolutePath = (description: string) => Type.String({ minLength: 1, maxLength: 4096, description });

export const BuildImageBodySchema = Type.Object(
  {
    name: ImageNameSchema,
    recipe: Type.Optional(
      Type.Unsafe<Recipe>({
        type: 'string',
        enum: [...recipes],
        description: 'Build from scratch: debian-bookworm (mmdebstrap) or busybox (seconds, for tests and tiny guests). Give recipe or baseRootfs.',
      }),
    ),
    baseRootfs: Type.Optional(absolutePath('Build from an existing ext4 rootfs image (a Debian tree for packages to be installed)')),
    packages: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 500, description: 'Debian packages to install' }),
    ),
    packagesFile: Type.Optional(absolutePath('A file listing packages, one a line (# comments allowed)')),
    kernel: Type.Optional(absolutePath("Kernel to boot; default: Debian's linux-image-cloud-amd64, fetched and cached")),
    initrd: Type.Optional(absolutePath('Initrd for that kernel; default: one built from its modules')),
    modulesDir: Type.Optional(absolutePath('Modules of that kernel (lib/modules/<version>)')),
    size: Type.Optional(Type.String({ maxLength: 32, description: 'Rootfs size, e.g. 512M or 2G (64M..64G)' })),
    docker: Type.Optional(Type.Boolean({ description: "Install Docker from Debian's packages (default false)" })),
    services: Type.Optional(
      Type.Array(ref(ImageServiceRequestSchema), {
        maxItems: maxServices,
        description:
          "Programs to start at boot: systemd units on Debian, rc.d scripts on busybox. A service's port is published and waited for when a VM boots; a service that exits is shown in the VM's stateReason with the end of its log",
      }),
    ),
  },
  { $id: 'BuildImageRequest', additionalProperties: false },
);
export type BuildImageBody = Static<typeof BuildImageBodySchema>;

export const imageBuildSchemas = [BuildImageBodySchema];
