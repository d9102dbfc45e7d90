import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { problemFor } from '../services/errors.js';
import { sendProblem } from './problems.js';

/** The one operation anyone may call: the contract is public anyway (openapi.yaml is in the repository). */
export const publicContractPath = '/openapi.json';
/** Where app.ts mounts Swagger UI. A browser cannot add a bearer header to a page load; the UI's Authorize button takes the token for the calls it makes. */
export const docsPrefix = '/docs';

/**
 * Every request must carry `Authorization: Bearer <token>`, compared in constant time, except
 * the contract and the docs page that shows it ({@link isPublicRoute}).
 */
export function requireBearerToken(app: FastifyInstance, token: string): void {
  const expected = digest(token);
  app.addHook('onRequest', async (request, reply) => {
    if (isPublicRoute(request)) return;
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (match?.[1] && timingSafeEqual(digest(match[1]), expected)) return;
    reply.header('www-authenticate', 'Bearer realm="banger"');
    return sendProblem(
      reply,
      problemFor('unauthorized', match ? 'The bearer token is not valid' : 'This listener requires Authorization: Bearer <token>', {
        hint: 'pass the token the daemon was started with (--token or BANGER_TOKEN)',
      }),
    );
  });
}

/**
 * Decided by the route Fastify matched, never by the URL text: `/docs/../images`, `//docs`,
 * `/docsx` or `/images?x=/docs` match another route or none, and so still need the token. Under
 * /docs only routes hidden from the contract count (Swagger UI's page, assets and its copy of the
 * contract), so an API operation mounted there later would not slip out of the check.
 */
function isPublicRoute(request: FastifyRequest): boolean {
  const { url, schema } = request.routeOptions;
  if (url === publicContractPath) return true;
  const underDocs = url === docsPrefix || url?.startsWith(`${docsPrefix}/`) === true;
  return underDocs && schema?.hide === true;
}

// Hashing first gives both sides the same length, which timingSafeEqual requires.
function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
