import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../project-root.js';
import { text } from '../schemas/bounds.js';

export const version: string = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')).version;

export const systemRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/healthz', {
    schema: {
      tags: ['system'],
      operationId: 'health',
      summary: 'Liveness',
      description: 'Answers {"status": "ok"} while the daemon serves requests; it checks nothing else (no host tool, no VM). A daemon that is shutting down answers 503.',
      response: { 200: Type.Object({ status: Type.Literal('ok') }, { additionalProperties: false }) },
    },
  }, async () => ({ status: 'ok' as const }));

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

  app.get('/openapi.json', {
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
