import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ListRequestHeadersSchema, IdempotencyHeadersSchema, IdOrNameParamsSchema, notModifiedResponse, problemResponses, ref } from '../schemas/common.js';
import { JobSchema } from '../schemas/job.js';
import {
  CreateVmBodySchema,
  VmConsoleQuerySchema,
  VmDeleteQuerySchema,
  VmListQuerySchema,
  VmListSchema,
  VmSchema,
  VmStopQuerySchema,
} from '../schemas/vm.js';
import { consoleTailBytes } from '../domain/vm.js';
import { text } from '../schemas/bounds.js';
import { describeStages } from '../services/jobs/job-kind.js';
import type { VmService } from '../services/vms/vm-service.js';
import { vmCreateJob, vmDeleteJob, vmDeleteSelectedJob, vmPauseJob, vmRestartJob, vmRestoreJob, vmResumeJob, vmStartJob, vmStopJob } from '../services/vms/vm-jobs.js';
import { KeptAnswers, sendKeptPage } from '../http/kept-answers.js';
import { decodeCursor, defaultPageSize, page } from './cursor.js';

const isName = (value: unknown): value is string => typeof value === 'string';
const accepted = (description: string) => ref(JobSchema, { description });

export function vmRoutes(vms: VmService): FastifyPluginAsyncTypebox {
  return async (app) => {
    const pages = new KeptAnswers();
    app.get('/vms', {
      schema: {
        tags: ['vms'],
        operationId: 'listVms',
        summary: 'List VMs, ordered by name; filter by state and labels (?label=key=value, repeatable)',
        description:
          'One page of VMs (`limit`, default 50, at most 500; `nextCursor` for the next page, null on the last) that are in `state` and carry ' +
          'every label given. Services show what the guest agent last said (asked every few seconds); hostOverheadBytes is null here, ' +
          'measured only by GET /vms/{idOrName}.',
        querystring: VmListQuerySchema,
        headers: ListRequestHeadersSchema,
        response: { 200: ref(VmListSchema), ...notModifiedResponse, ...problemResponses(422) },
      },
    }, async (request, reply) => {
      const { limit = defaultPageSize, cursor, state, label } = request.query;
      return sendKeptPage(pages, request, reply, vms.listStamp(), () =>
        page(vms.list({ state, labels: label }, limit + 1, decodeCursor(cursor, isName)), limit, (vm) => vm.name),
      );
    });

    app.post('/vms', {
      schema: {
        tags: ['vms'],
        operationId: 'createVm',
        summary: 'Create and boot a VM (a job)',
        description: `Boots the image: ${describeStages(vmCreateJob)} With snapshot (or an image whose warm snapshot fits the request) it restores instead: ${describeStages(vmRestoreJob)} With start: false the boot stages are skipped and the VM ends stopped, its disks made and ports reserved, for POST /vms/{idOrName}/start. A name held by a failed create's VM is taken over (that VM is deleted); held by any other VM, it is 409 vm-name-taken.`,
        headers: IdempotencyHeadersSchema,
        body: ref(CreateVmBodySchema),
        response: { 202: accepted('The create job; poll its Location'), ...problemResponses(404, 409, 413, 422) },
      },
    }, async (request, reply) => {
      const job = await vms.create(request.body);
      return reply.code(202).header('location', job.href).send(job);
    });

    app.delete('/vms', {
      schema: {
        tags: ['vms'],
        operationId: 'deleteVmsByLabel',
        summary: 'Delete every VM that carries all the given labels (one job for all of them)',
        description: describeStages(vmDeleteSelectedJob),
        querystring: VmDeleteQuerySchema,
        response: { 202: accepted('The delete job; its result lists the deleted VMs'), ...problemResponses(409, 422) },
      },
    }, async (request, reply) => {
      const job = vms.deleteByLabels(request.query.label);
      return reply.code(202).header('location', job.href).send(job);
    });

    app.get('/vms/:idOrName', {
      schema: {
        tags: ['vms'],
        operationId: 'getVm',
        summary: 'Show one VM: state, resources, published ports, SSH, timings',
        description:
          "A VM by id or name. For a running VM whose image has services it first asks the guest agent how they are doing (unless it " +
          "answered within the last second); for a running or paused VM it measures hostOverheadBytes, the hypervisor's resident memory beyond guest RAM.",
        params: IdOrNameParamsSchema,
        response: { 200: ref(VmSchema), ...problemResponses(404) },
      },
    }, async (request) => vms.describe(request.params.idOrName));

    app.delete('/vms/:idOrName', {
      schema: {
        tags: ['vms'],
        operationId: 'deleteVm',
        summary: 'Delete a VM (a job): its process, disks, sockets and port reservations go',
        description: describeStages(vmDeleteJob),
        params: IdOrNameParamsSchema,
        response: { 202: accepted('The delete job'), ...problemResponses(404, 409) },
      },
    }, async (request, reply) => {
      const job = vms.delete(request.params.idOrName);
      return reply.code(202).header('location', job.href).send(job);
    });

    app.post('/vms/:idOrName/stop', {
      schema: {
        tags: ['vms'],
        operationId: 'stopVm',
        summary: 'Stop a running VM (a job): ACPI power button, then the hypervisor quits after the grace',
        description: describeStages(vmStopJob),
        headers: IdempotencyHeadersSchema,
        params: IdOrNameParamsSchema,
        querystring: VmStopQuerySchema,
        response: { 202: accepted('The stop job'), ...problemResponses(404, 409, 422) },
      },
    }, async (request, reply) => {
      const job = vms.stop(request.params.idOrName, { graceSeconds: request.query.graceSeconds });
      return reply.code(202).header('location', job.href).send(job);
    });

    app.post('/vms/:idOrName/pause', {
      schema: {
        tags: ['vms'],
        operationId: 'pauseVm',
        summary: "Pause a running VM: its vCPUs stop, its memory, disks and ports stay (answers once it is paused)",
        description: `Runs as a short job (kind ${vmPauseJob.name}) so that it never overlaps another job on the VM, and answers with the paused VM. Stop, restart, delete and snapshots work from \`paused\`.`,
        headers: IdempotencyHeadersSchema,
        params: IdOrNameParamsSchema,
        response: { 200: ref(VmSchema), ...problemResponses(404, 409) },
      },
    }, async (request) => vms.pause(request.params.idOrName));

    app.post('/vms/:idOrName/resume', {
      schema: {
        tags: ['vms'],
        operationId: 'resumeVm',
        summary: 'Resume a paused VM where it stopped (answers once it runs)',
        description: `Runs as a short job (kind ${vmResumeJob.name}) and answers with the running VM.`,
        headers: IdempotencyHeadersSchema,
        params: IdOrNameParamsSchema,
        response: { 200: ref(VmSchema), ...problemResponses(404, 409) },
      },
    }, async (request) => vms.resume(request.params.idOrName));

    app.post('/vms/:idOrName/start', {
      schema: {
        tags: ['vms'],
        operationId: 'startVm',
        summary: 'Boot a stopped VM from its disks (a job, with the same readiness stages as a create)',
        description: `${describeStages(vmStartJob)} Refused (409 vm-limit-reached) while BANGER_MAX_VMS VMs run or are on their way.`,
        headers: IdempotencyHeadersSchema,
        params: IdOrNameParamsSchema,
        response: { 202: accepted('The start job'), ...problemResponses(404, 409) },
      },
    }, async (request, reply) => {
      const job = vms.start(request.params.idOrName);
      return reply.code(202).header('location', job.href).send(job);
    });

    app.post('/vms/:idOrName/restart', {
      schema: {
        tags: ['vms'],
        operationId: 'restartVm',
        summary: 'Stop (if running) and boot a VM again (a job)',
        description: describeStages(vmRestartJob),
        headers: IdempotencyHeadersSchema,
        params: IdOrNameParamsSchema,
        querystring: VmStopQuerySchema,
        response: { 202: accepted('The restart job'), ...problemResponses(404, 409, 422) },
      },
    }, async (request, reply) => {
      const job = vms.restart(request.params.idOrName, { graceSeconds: request.query.graceSeconds });
      return reply.code(202).header('location', job.href).send(job);
    });

    app.get('/vms/:idOrName/console', {
      schema: {
        tags: ['vms'],
        operationId: 'getVmConsole',
        summary: "The VM's serial console log (text/plain); ?tail=N for the last N lines",
        description:
          "What the guest wrote to its serial console (kernel messages, boot output, a login prompt) in any state, as UTF-8 text: the last " +
          "MiB of the log, or the last `tail` lines of that MiB. Empty before the VM's first boot.",
        params: IdOrNameParamsSchema,
        querystring: VmConsoleQuerySchema,
        response: {
          // The last MiB, which holds no more characters than bytes, and a final newline after ?tail lines.
          200: Type.Unsafe<string>({ description: 'The console text', content: { 'text/plain': { schema: text(consoleTailBytes + 1) } } }),
          ...problemResponses(404, 422),
        },
      },
    }, async (request, reply) => {
      const text = await vms.console(request.params.idOrName, request.query.tail);
      return reply.type('text/plain; charset=utf-8').send(text);
    });
  };
}
