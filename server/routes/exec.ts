import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { IdOrNameParamsSchema, problemResponses, ref } from '../schemas/common.js';
import { ExecBodySchema, ExecEventSchema } from '../schemas/exec.js';
import { ExecStdinParamsSchema, StdinSentSchema } from '../schemas/files.js';
import { acceptRawBodies, rawBodySchema, rawBodyType } from '../http/raw-body.js';
import type { ExecService } from '../services/exec/exec-service.js';

/** Each event as one JSON line. */
const ndjsonLines = (): Transform =>
  new Transform({
    writableObjectMode: true,
    transform: (event: unknown, _encoding, done) => done(null, `${JSON.stringify(event)}\n`),
  });

const STDIN = 'application/octet-stream';

export function execRoutes(execs: ExecService): FastifyPluginAsyncTypebox {
  return async (app) => {
    acceptRawBodies(app, [STDIN]);

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

    app.put('/vms/:idOrName/execs/:execId/stdin', {
      schema: {
        tags: ['vms'],
        operationId: 'sendExecStdin',
        summary: 'Stream standard input to a running exec',
        description:
          'For an exec started with "stdinStream": true (its execId is in the started event): the body streams into the program’s ' +
          'standard input, which is closed when the body ends; the answer comes then. The guest reads at its own pace (SSH flow ' +
          'control), so input of any size passes without being held in the daemon. Sent once per exec. A body that breaks off ' +
          'kills the program rather than let it take a cut input for the whole.',
        params: ExecStdinParamsSchema,
        body: rawBodySchema([STDIN], 'The bytes for the program’s standard input'),
        response: {
          200: ref(StdinSentSchema),
          ...problemResponses(404, 409, 415, 422),
        },
      },
    }, async (request) => {
      rawBodyType(request, [STDIN]);
      const sizeBytes = await execs.pipeStdin(request.params.idOrName, request.params.execId, request.raw);
      return { execId: request.params.execId, sizeBytes };
    });
  };
}
