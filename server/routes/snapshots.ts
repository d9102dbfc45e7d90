import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ListRequestHeadersSchema, IdempotencyHeadersSchema, IdOrNameParamsSchema, notModifiedResponse, PageQuerySchema, problemResponses, ref } from '../schemas/common.js';
import { JobSchema } from '../schemas/job.js';
import { CreateSnapshotBodySchema, SnapshotListSchema, SnapshotSchema, WarmImageBodySchema } from '../schemas/snapshot.js';
import { describeStages } from '../services/jobs/job-kind.js';
import type { SnapshotService } from '../services/snapshots/snapshot-service.js';
import { imageWarmJob, vmSnapshotJob } from '../services/vms/vm-jobs.js';
import type { VmService } from '../services/vms/vm-service.js';
import { KeptAnswers, sendKeptPage } from '../http/kept-answers.js';
import { decodeCursor, defaultPageSize, page } from './cursor.js';

const isName = (value: unknown): value is string => typeof value === 'string';

export function snapshotRoutes(snapshots: SnapshotService, vms: VmService): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post('/vms/:idOrName/snapshots', {
      schema: {
        tags: ['snapshots'],
        operationId: 'createSnapshot',
        summary: 'Snapshot a running or paused VM (a job): its memory and device state and its disks',
        description: `The VM is paused while its state is saved and its disks are frozen as layers of the snapshot; then it goes on above them (or stops, with stop: true). Restore with POST /vms {"snapshot": name}. ${describeStages(vmSnapshotJob)} One of resume and stop is skipped.`,
        headers: IdempotencyHeadersSchema,
        params: IdOrNameParamsSchema,
        body: ref(CreateSnapshotBodySchema),
        response: { 202: ref(JobSchema, { description: 'The snapshot job; its result is { snapshot }' }), ...problemResponses(404, 409, 413, 422) },
      },
    }, async (request, reply) => {
      const job = vms.snapshot(request.params.idOrName, request.body);
      return reply.code(202).header('location', job.href).send(job);
    });

    app.post('/images/:idOrName/warm', {
      schema: {
        tags: ['images', 'snapshots'],
        operationId: 'warmImage',
        summary: 'Make a warm snapshot of an image (a job): creates from the image then restore it instead of booting',
        description: `Boots a VM from the image with its RAM in a file, waits until its agent and the given ports are ready, snapshots it, deletes the VM, and records the snapshot on the image (replacing an older one). Afterwards POST /vms {image} restores it when cpus, memoryMiB and the work disk size match (warm: false forces a cold boot); the VM's bootMode says which happened. Re-seeding, re-registering or deleting the image drops it. ${describeStages(imageWarmJob)}`,
        headers: IdempotencyHeadersSchema,
        params: IdOrNameParamsSchema,
        body: ref(WarmImageBodySchema),
        response: { 202: ref(JobSchema, { description: 'The warm-up job; its result is { snapshot }' }), ...problemResponses(404, 409, 413, 422) },
      },
    }, async (request, reply) => {
      const job = await vms.warmImage(request.params.idOrName, request.body ?? {});
      return reply.code(202).header('location', job.href).send(job);
    });

    const pages = new KeptAnswers();
    app.get('/snapshots', {
      schema: {
        tags: ['snapshots'],
        operationId: 'listSnapshots',
        summary: 'List snapshots, ordered by name',
        description: 'Snapshots are taken with POST /vms/{idOrName}/snapshots, or made by POST /images/{idOrName}/warm.',
        querystring: PageQuerySchema,
        headers: ListRequestHeadersSchema,
        response: { 200: ref(SnapshotListSchema), ...notModifiedResponse, ...problemResponses(422) },
      },
    }, async (request, reply) => {
      const { limit = defaultPageSize, cursor } = request.query;
      return sendKeptPage(pages, request, reply, snapshots.listStamp(), () =>
        page(snapshots.list(limit + 1, decodeCursor(cursor, isName)), limit, (snapshot) => snapshot.name),
      );
    });

    app.get('/snapshots/:idOrName', {
      schema: {
        tags: ['snapshots'],
        operationId: 'getSnapshot',
        summary: 'Show one snapshot: source VM, image, vCPUs, memory, size on disk, what stands on it',
        description:
          'A snapshot by id or name. Only a `ready` one can be restored (POST /vms {"snapshot": name}), and only by the same hypervisor ' +
          'version and machine type; `dependents` lists the VMs and later snapshots on its disk layers, which keep it from being deleted.',
        params: IdOrNameParamsSchema,
        response: { 200: ref(SnapshotSchema), ...problemResponses(404) },
      },
    }, async (request) => snapshots.get(request.params.idOrName));

    app.delete('/snapshots/:idOrName', {
      schema: {
        tags: ['snapshots'],
        operationId: 'deleteSnapshot',
        summary: 'Delete a snapshot and its files',
        description: 'Refused (409 snapshot-in-use, naming them) while VMs restored from it, the VM it was taken of, or later snapshots stand on its disk layers.',
        params: IdOrNameParamsSchema,
        response: { 200: ref(SnapshotSchema, { description: 'The deleted snapshot' }), ...problemResponses(404, 409) },
      },
    }, async (request) => snapshots.delete(request.params.idOrName));
  };
}
