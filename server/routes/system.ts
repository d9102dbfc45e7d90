import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../project-root.js';
import { byteCount, message, pathString, text } from '../schemas/bounds.js';
import type { StorageConcern, StorageGuard } from '../services/storage/storage-guard.js';
import { publicContractPath } from '../http/auth.js';

export const version: string = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')).version;

const StorageHealthSchema = Type.Object(
  {
    path: pathString({ description: 'The state dir, whose filesystem holds the database, images, VM disks and snapshots' }),
    freeBytes: byteCount({ description: 'Bytes free on it (leaving out root-reserved blocks)' }),
    minFreeBytes: byteCount({ description: 'BANGER_MIN_FREE_SPACE: below this, new VMs, images and snapshots are refused (507 insufficient-storage); 0: never' }),
    reserveBytes: byteCount({ description: 'BANGER_SPACE_RESERVE: the file held back for deletes and stops on a full disk; 0: none' }),
    reserveHeld: Type.Boolean({ description: 'false once a full disk made the daemon give the reserve up (it is made again when there is room)' }),
  },
  { additionalProperties: false },
);

const HealthSchema = Type.Object(
  {
    status: Type.Unsafe<'ok' | 'degraded'>({
      type: 'string',
      enum: ['ok', 'degraded'],
      description: 'degraded: the daemon serves requests, but reasons[] says what it refuses or risks',
    }),
    reasons: Type.Array(
      Type.Object(
        {
          code: Type.Unsafe<StorageConcern>({ type: 'string', enum: ['low-free-space', 'space-reserve-released'] satisfies StorageConcern[] }),
          message: message(),
        },
        { additionalProperties: false },
      ),
      { maxItems: 8, description: 'Empty when ok' },
    ),
    storage: StorageHealthSchema,
  },
  { additionalProperties: false },
);

export const systemRoutes = (storage: StorageGuard): FastifyPluginAsyncTypebox => async (app) => {
  app.get('/healthz', {
    schema: {
      tags: ['system'],
      operationId: 'health',
      summary: 'Liveness, and what the daemon refuses',
      description:
        'Answers 200 while the daemon serves requests: status ok, or degraded with the reasons, e.g. too little free space on the state dir\'s filesystem ' +
        '(new VMs, images and snapshots get 507 insufficient-storage; deletes and stops still work). It checks no host tool and no VM. ' +
        'A daemon that is shutting down answers 503.',
      response: { 200: HealthSchema },
    },
  }, async () => {
    const { concerns, ...space } = storage.health();
    return { status: concerns.length === 0 ? ('ok' as const) : ('degraded' as const), reasons: concerns, storage: space };
  });

  app.get('/version', {
    schema: {
      tags: ['system'],
      operationId: 'version',
      summary: 'Daemon and runtime versions',
      description: "The daemon's version (its package.json) and the Node.js version it runs on, e.g. to check that a client and the daemon match.",
      response: {
        200: Type.Object({ version: text(256), node: text(64) }, { additionalProperties: false }),
      },
    },
  }, async () => ({ version, node: process.version }));

  app.get(publicContractPath, {
    schema: {
      tags: ['system'],
      operationId: 'openapi',
      summary: 'This API as OpenAPI 3.1',
      description: 'The document this daemon serves, generated from its own schemas; the same as openapi.yaml in its source.',
      response: {
        200: Type.Object({}, { additionalProperties: true, description: 'An OpenAPI 3.1 document' }),
      },
    },
  }, async () => app.swagger());
};
