import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { IdOrNameParamsSchema, problemResponses, ref } from '../schemas/common.js';
import { ExecBodySchema, ExecEventSchema } from '../schemas/exec.js';
import type { ExecService } from '../services/exec/exec-service.js';

/** Each event as one JSON line. */
const ndjsonLines = (): Transform =>
  new Transform({
    writableObjectMode: true,
    transform: (event: unknown, _encoding, done) => done(null, `${JSON.stringify(event)}\n`),
  });

export function execRoutes(execs: ExecService): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post('/vms/:idOrName/exec', {
      config: { idempotent: false },
      schema: {
        tags: ['vms'],
        operationId: 'execInVm',
        summary: 'Run a program in a running VM and stream its output',
        description:
          'Runs the command in the guest over its shell channel (SSH on a virtio-serial port; no guest network needed) and streams ' +
          'application/x-ndjson: one ExecEvent per line, `started`, then `output` as the guest writes it (stdout and stderr apart), ' +
          'then `exit`. A client that disconnects before the exit kills the program and everything it started. Several execs may ' +
          'run on one VM at once. Problems that come before the program starts (bad request, VM not running, guest unreachable) ' +
          'are problem+json responses instead. An Idempotency-Key header is ignored here: a live stream cannot be replayed, so a ' +
          'retried request runs the command again.',
        params: IdOrNameParamsSchema,
        body: ref(ExecBodySchema),
        response: {
          200: Type.Unsafe({
            description: 'application/x-ndjson: one ExecEvent per line',
            content: { 'application/x-ndjson': { schema: ref(ExecEventSchema) } },
          }),
          ...problemResponses(404, 409, 413, 422, 429, 502),
        },
      },
    }, async (request, reply) => {
      const exec = await execs.exec(request.params.idOrName, request.body);
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache' });
      // A client gone early ends the pipeline with an error, which destroys exec: that kills the guest program.
      await pipeline(exec, ndjsonLines(), raw).catch(() => {});
    });
  };
}
