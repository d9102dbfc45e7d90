import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { maxSafeCount } from '../domain/limits.js';
import { text } from '../schemas/bounds.js';
import { ListRequestHeadersSchema, IdempotencyHeadersSchema, IdParamsSchema, notModifiedResponse, problemResponses, ref } from '../schemas/common.js';
import { JobEventsQuerySchema, JobListQuerySchema, JobListSchema, JobSchema, JobWaitQuerySchema } from '../schemas/job.js';
import type { JobService } from '../services/jobs/job-service.js';
import type { JobEvent } from '../services/jobs/types.js';
import { KeptAnswers, sendKeptPage } from '../http/kept-answers.js';
import { decodeCursor, defaultPageSize, page } from './cursor.js';

interface Position {
  createdAt: string;
  id: string;
}
const isPosition = (value: unknown): value is Position =>
  typeof value === 'object' && value !== null && typeof (value as Position).createdAt === 'string' && typeof (value as Position).id === 'string';

const heartbeatMs = 15_000;

export function jobRoutes(jobs: JobService): FastifyPluginAsyncTypebox {
  return async (app) => {
    const pages = new KeptAnswers();
    app.get('/jobs', {
      schema: {
        tags: ['jobs'],
        operationId: 'listJobs',
        summary: 'List jobs, newest first',
        description:
          'One page of jobs, newest first (`limit`, default 50, at most 500; `nextCursor` for the next page, null on the last), filtered by ' +
          'status, kind and target: targetId matches any of a job’s targets, targetType alone also matches selections. Jobs are kept ' +
          'across daemon restarts.',
        querystring: JobListQuerySchema,
        headers: ListRequestHeadersSchema,
        response: { 200: ref(JobListSchema), ...notModifiedResponse, ...problemResponses(422) },
      },
    }, async (request, reply) => {
      const { limit = defaultPageSize, cursor, ...filter } = request.query;
      return sendKeptPage(pages, request, reply, jobs.listStamp(), () =>
        page(jobs.list(filter, limit + 1, decodeCursor(cursor, isPosition)), limit, (job) => ({ createdAt: job.createdAt, id: job.id })),
      );
    });

    app.get('/jobs/:id', {
      schema: {
        tags: ['jobs'],
        operationId: 'getJob',
        summary: 'Show a job; with ?wait=N, answer as soon as it finishes or after N seconds',
        description:
          'Every job-starting operation answers 202 with the job and its Location, this URL. A job ends succeeded (its `result` set), failed ' +
          '(its `error` a problem, with `logPath` when there is a log) or cancelled; `stages` and `progress` show how far it got. ' +
          'With ?wait=N (at most 60) the answer waits for the job to finish, so polling needs no sleep.',
        params: IdParamsSchema,
        querystring: JobWaitQuerySchema,
        response: { 200: ref(JobSchema), ...problemResponses(404, 422) },
      },
    }, async (request) => jobs.wait(request.params.id, request.query.wait ?? 0));

    app.post('/jobs/:id/cancel', {
      schema: {
        tags: ['jobs'],
        operationId: 'cancelJob',
        summary: 'Cancel a job: its processes are killed and its partial files removed',
        description:
          'Answers once the job has stopped, with its status `cancelled`. A job that has already finished is refused with 409 job-finished, ' +
          'and one whose kind cannot be cancelled (cancellable: false) with 409 job-not-cancellable.',
        headers: IdempotencyHeadersSchema,
        params: IdParamsSchema,
        response: { 200: ref(JobSchema, { description: 'The job once it has stopped' }), ...problemResponses(404, 409) },
      },
    }, async (request) => jobs.cancel(request.params.id));

    app.get('/jobs/:id/events', {
      schema: {
        tags: ['jobs'],
        operationId: 'streamJobEvents',
        summary: 'Server-sent events, one per status or stage change; Last-Event-ID replays what was missed',
        description:
          'A text/event-stream of the job: each event carries `id` (a sequence number), `event` (status or stage) and `data` (the whole Job as ' +
          'JSON). Events already past are sent first, after the Last-Event-ID header (or ?lastEventId=), then live ones; comments keep the ' +
          'connection alive every 15 s. The stream ends once the job has finished.',
        params: IdParamsSchema,
        querystring: JobEventsQuerySchema,
        response: {
          200: Type.Unsafe({
            description: 'text/event-stream; each event has id (a sequence number), event (status|stage) and data (the Job as JSON). The stream ends after the job finishes.',
            // A stream, as long as the job lasts: no bound but what can be counted.
            content: { 'text/event-stream': { schema: text(maxSafeCount) } },
          }),
          ...problemResponses(404),
        },
      },
    }, async (request, reply) => {
      const header = Number(request.headers['last-event-id']);
      const afterSeq = request.query.lastEventId ?? (Number.isInteger(header) && header > 0 ? header : 0);
      jobs.get(request.params.id); // a 404 must be a problem, before the stream starts
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      raw.write(': banger job events\n\n');
      const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), heartbeatMs);
      let unsubscribe = () => {};
      const end = () => {
        clearInterval(heartbeat);
        unsubscribe();
        raw.end();
      };
      const write = (event: JobEvent) => raw.write(`id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event.job)}\n\n`);
      unsubscribe = jobs.subscribe(request.params.id, afterSeq, write, end);
      request.raw.on('close', end);
    });
  };
}
