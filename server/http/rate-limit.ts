import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import { BangerError } from '../services/errors.js';

export interface RateLimit {
  /** Requests per minute from one client address. */
  perMinute: number;
}

/**
 * A limit per client address on the TCP listener, checked before the bearer token so that
 * guessing tokens is slow too. The unix socket has none: who may connect is decided by its file
 * mode, and local tools poll it hard.
 */
export async function limitRequestRate(app: FastifyInstance, limit: RateLimit): Promise<void> {
  await app.register(rateLimit, {
    // Not per route: one app-wide hook, added before the token check and also in front of unknown routes.
    global: false,
    max: limit.perMinute,
    timeWindow: 60_000,
    errorResponseBuilder: (_request, context) =>
      new BangerError('rate-limited', `More than ${context.max} requests a minute from this address`, {
        hint: `wait ${Math.ceil(context.ttl / 1000)} s (Retry-After); the limit is BANGER_TCP_RATE_LIMIT`,
      }),
  });
  app.addHook('onRequest', app.rateLimit());
}
