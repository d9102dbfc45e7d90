import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { problemFor } from '../services/errors.js';
import { sendProblem } from './problems.js';

/** Every request must carry `Authorization: Bearer <token>`; compared in constant time. */
export function requireBearerToken(app: FastifyInstance, token: string): void {
  const expected = digest(token);
  app.addHook('onRequest', async (request, reply) => {
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

// Hashing first gives both sides the same length, which timingSafeEqual requires.
function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
