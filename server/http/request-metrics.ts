import type { FastifyInstance } from 'fastify';
import type { DaemonMetrics } from '../services/metrics/daemon-metrics.js';

/** The route label of a request no route matched: its URL would let any client add series. */
export const unmatchedRoute = 'unmatched';

/** Counts and times every answer, the refused ones (401, 429, 503) included, by route template. */
export function countRequests(app: FastifyInstance, metrics: DaemonMetrics): void {
  // A callback hook, not an async one: it runs on every request, and a promise per request costs more than the counting.
  app.addHook('onResponse', (request, reply, done) => {
    metrics.requestAnswered(request.method, request.routeOptions.url ?? unmatchedRoute, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
}
