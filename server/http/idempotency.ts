import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IdempotencyRepository } from '../db/repositories/idempotency.js';
import { problemFor } from '../services/errors.js';
import { now } from '../services/ids.js';
import { canonicalJson } from './canonical-json.js';
import { sendProblem } from './problems.js';

declare module 'fastify' {
  interface FastifyRequest {
    idempotencyKey?: string;
  }
  interface FastifyContextConfig {
    /** false on routes whose answer is a live stream, which cannot be stored and replayed: the key is ignored there. */
    idempotent?: boolean;
  }
}

const replayedHeaders = ['location', 'content-type'];

/**
 * `Idempotency-Key` on a POST, as the IETF draft (draft-ietf-httpapi-idempotency-key-header) and
 * Stripe have it: an accepted request's response (2xx: the operation began) is stored for 24 h and
 * every replay of the same request gets it again (same job, same status); a refusal (4xx) or a
 * fault (5xx) is not stored, so the key can be retried once the cause is fixed; a request with the
 * key while the first is in flight gets 409; the same key with another request (method, URL or
 * body, compared as canonical JSON) gets 422.
 */
export function enableIdempotencyKeys(app: FastifyInstance, keys: IdempotencyRepository): void {
  app.addHook('preHandler', async (request, reply) => {
    const key = request.headers['idempotency-key'];
    if (request.method !== 'POST' || typeof key !== 'string' || key === '' || request.routeOptions.config.idempotent === false) return;
    const requestHash = hashRequest(request);
    const stored = keys.get(key);
    if (stored) {
      if (stored.requestHash !== requestHash) {
        return sendProblem(
          reply,
          problemFor('idempotency-key-reused', `Idempotency-Key "${key}" was first used for another request (${stored.method} ${stored.path})`, {
            hint: 'use a new key for a different request',
          }),
        );
      }
      if (stored.responseStatus === null) {
        return sendProblem(reply, problemFor('idempotency-key-in-flight', `The first request with Idempotency-Key "${key}" is still being handled`, { hint: 'retry in a moment' }));
      }
      reply.code(stored.responseStatus).headers(stored.responseHeaders ?? {}).header('idempotent-replayed', 'true');
      return reply.send(stored.responseBody ?? '');
    }
    if (!keys.claim({ key, method: request.method, path: request.url, requestHash, createdAt: now() })) {
      return sendProblem(reply, problemFor('idempotency-key-in-flight', `The first request with Idempotency-Key "${key}" is still being handled`, { hint: 'retry in a moment' }));
    }
    request.idempotencyKey = key;
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const key = request.idempotencyKey;
    if (!key) return payload;
    // Only an accepted request is the answer to keep: after a refusal or a fault, a retry with the same key may succeed.
    if (reply.statusCode >= 400 || typeof payload !== 'string') {
      keys.release(key);
      return payload;
    }
    const headers: Record<string, string> = {};
    for (const name of replayedHeaders) {
      const value = reply.getHeader(name);
      if (value !== undefined) headers[name] = String(value);
    }
    keys.complete(key, reply.statusCode, headers, payload);
    return payload;
  });
}

function hashRequest(request: FastifyRequest): string {
  return createHash('sha256')
    .update(`${request.method} ${request.url}\n${canonicalJson(request.body ?? null)}`)
    .digest('hex');
}
