import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IdempotencyRepository } from '../db/repositories/idempotency.js';
import { problemFor } from '../services/errors.js';
import { now } from '../services/ids.js';
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
 * `Idempotency-Key` on a POST: the first response is stored and every replay of the same request
 * gets it again (same job, same status); the same key with another request is refused.
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
    // Server faults are not the answer to the request: a retry with the same key may succeed.
    if (reply.statusCode >= 500 || typeof payload !== 'string') {
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
    .update(`${request.method} ${request.url}\n${JSON.stringify(request.body ?? null)}`)
    .digest('hex');
}
