import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../project-root.js';

export const version: string = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')).version;

export const systemRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/healthz', {
    schema: {
      tags: ['system'],
      operationId: 'health',
      summary: 'Liveness',
      response: { 200: Type.Object({ status: Type.Literal('ok') }, { additionalProperties: false }) },
    },
  }, async () => ({ status: 'ok' as const }));

  app.get('/version', {
    schema: {
      tags: ['system'],
      operationId: 'version',
      summary: 'Daemon and runtime versions',
      response: {
        200: Type.Object({ version: Type.String(), node: Type.String() }, { additionalProperties: false }),
      },
    },
  }, async () => ({ version, node: process.version }));

  app.get('/openapi.json', {
    schema: { tags: ['system'], operationId: 'openapi', summary: 'This API as OpenAPI 3', hide: true },
  }, async () => app.swagger());
};
