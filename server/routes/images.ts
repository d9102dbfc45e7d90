import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ListRequestHeadersSchema, IdempotencyHeadersSchema, IdOrNameParamsSchema, notModifiedResponse, PageQuerySchema, problemResponses, ref } from '../schemas/common.js';
import { ImageListSchema, ImageSchema, RegisterImageBodySchema } from '../schemas/image.js';
import { BuildImageBodySchema } from '../schemas/image-build.js';
import { JobSchema } from '../schemas/job.js';
import { imageBuildJob, imagePromoteJob } from '../services/images/image-jobs.js';
import type { ImageService } from '../services/images/image-service.js';
import type { RequestOrigin } from '../services/images/import-roots.js';
import { describeStages } from '../services/jobs/job-kind.js';
import { KeptAnswers, sendKeptPage } from '../http/kept-answers.js';
import { decodeCursor, defaultPageSize, page } from './cursor.js';

const isName = (value: unknown): value is string => typeof value === 'string';

/** `origin`: the listener these routes answer on, which decides where request paths may point. */
export function imageRoutes(images: ImageService, origin: RequestOrigin): FastifyPluginAsyncTypebox {
  return async (app) => {
    const pages = new KeptAnswers();
    app.get('/images', {
      schema: {
        tags: ['images'],
        operationId: 'listImages',
        summary: 'List images, ordered by name',
        description:
          'One page of the image catalogue, managed and unmanaged, ordered by name: `limit` items (default 50, at most 500) and a ' +
          '`nextCursor` to pass as ?cursor= for the next page, null on the last.',
        querystring: PageQuerySchema,
        headers: ListRequestHeadersSchema,
        response: { 200: ref(ImageListSchema), ...notModifiedResponse, ...problemResponses(422) },
      },
    }, async (request, reply) => {
      const { limit = defaultPageSize, cursor } = request.query;
      return sendKeptPage(pages, request, reply, images.listStamp(), () =>
        page(images.list(limit + 1, decodeCursor(cursor, isName)), limit, (image) => image.name),
      );
    });

    app.get('/images/:idOrName', {
      schema: {
        tags: ['images'],
        operationId: 'getImage',
        summary: 'Show one image',
        description: "An image by id or name: its artifact paths, whether banger manages them, its services, the fingerprint of the SSH key in its work seed and its warm snapshot, if any.",
        params: IdOrNameParamsSchema,
        response: { 200: ref(ImageSchema), ...problemResponses(404) },
      },
    }, async (request) => images.get(request.params.idOrName));

    app.post('/images', {
      schema: {
        tags: ['images'],
        operationId: 'registerImage',
        summary: 'Register existing image files (unmanaged); re-registering a name updates it',
        description:
          'Records files already on the host as an unmanaged image: banger uses them where they are and never deletes them. Every path ' +
          'must be absolute and, after resolving symlinks, an existing regular file (a directory for modulesDir) that is what it claims ' +
          'to be: an ext4 filesystem (rootfs, work seed), a Linux kernel (bzImage or ELF vmlinux), an initrd (cpio, possibly compressed), ' +
          'a kernel modules dir, a UTF-8 text file of at most 1 MiB (packages). Nothing under /proc, /sys or /dev is accepted, and the real ' +
          'path must lie inside the import roots (<state-dir>/imports and BANGER_IMPORT_ROOTS) when BANGER_IMPORT_ROOTS is set or the ' +
          'request comes over TCP. All failures are reported together (422 preflight-failed). A managed image of that name is refused ' +
          '(409 image-managed). Not a job: it answers at once.',
        headers: IdempotencyHeadersSchema,
        body: ref(RegisterImageBodySchema),
        response: {
          200: ref(ImageSchema, { description: 'An unmanaged image of that name was updated' }),
          201: ref(ImageSchema, { description: 'The image was registered' }),
          ...problemResponses(409, 413, 422),
        },
      },
    }, async (request, reply) => {
      const { image, created } = await images.register(request.body, origin);
      if (created) reply.code(201).header('location', image.href);
      return image;
    });

    app.post('/images/builds', {
      schema: {
        tags: ['images'],
        operationId: 'buildImage',
        summary: 'Build a managed image from a recipe or a base rootfs (a job; its log path is in the job)',
        description: describeStages(imageBuildJob),
        headers: IdempotencyHeadersSchema,
        body: ref(BuildImageBodySchema),
        response: { 202: ref(JobSchema, { description: 'The build job; poll its Location' }), ...problemResponses(409, 413, 422) },
      },
    }, async (request, reply) => {
      const job = await images.build(request.body, origin);
      return reply.code(202).header('location', job.href).send(job);
    });

    app.post('/images/:idOrName/reseed', {
      schema: {
        tags: ['images'],
        operationId: 'reseedImage',
        summary: "Write the daemon's current SSH key into a managed image's work seed",
        description:
          "Rewrites the authorized key in the work seed in place (debugfs, no mount) and records its fingerprint, so VMs created afterwards accept " +
          "the daemon's current key; the image's warm snapshot, which holds the old key, is dropped. Answers with the image once done (not a job). " +
          'Refused with 409 image-not-managed for an unmanaged image.',
        headers: IdempotencyHeadersSchema,
        params: IdOrNameParamsSchema,
        response: { 200: ref(ImageSchema, { description: 'The re-seeded image' }), ...problemResponses(404, 409, 422) },
      },
    }, async (request) => images.reseed(request.params.idOrName));

    app.post('/images/:idOrName/promote', {
      schema: {
        tags: ['images'],
        operationId: 'promoteImage',
        summary: "Copy an unmanaged image's artifacts into banger's artifact dir (a job)",
        description: describeStages(imagePromoteJob),
        headers: IdempotencyHeadersSchema,
        params: IdOrNameParamsSchema,
        response: { 202: ref(JobSchema, { description: 'The promotion job; poll its Location' }), ...problemResponses(404, 409, 422) },
      },
    }, async (request, reply) => {
      const job = await images.promote(request.params.idOrName, origin);
      return reply.code(202).header('location', job.href).send(job);
    });

    app.delete('/images/:idOrName', {
      schema: {
        tags: ['images'],
        operationId: 'deleteImage',
        summary: 'Delete an image; its artifacts too when managed. Refused while VMs use it',
        description:
          "Answers with the image as it was. A managed image's artifact directory is removed; an unmanaged image's files stay where they are. " +
          'Refused with 409 image-in-use, naming them, while VMs or snapshots (other than its warm snapshot, which is dropped) use it.',
        params: IdOrNameParamsSchema,
        response: { 200: ref(ImageSchema, { description: 'The deleted image' }), ...problemResponses(404, 409) },
      },
    }, async (request) => images.delete(request.params.idOrName));
  };
}
