import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { maxMetricsTextLength } from '../domain/limits.js';
import { text } from '../schemas/bounds.js';
import type { DaemonMetrics } from '../services/metrics/daemon-metrics.js';

/** Prometheus' text exposition format 0.0.4, as prom-client writes it. */
const prometheusText = 'text/plain; version=0.0.4; charset=utf-8';

export const metricsRoutes = (metrics: DaemonMetrics): FastifyPluginAsyncTypebox => async (app) => {
  app.get('/metrics', {
    schema: {
      tags: ['system'],
      operationId: 'getMetrics',
      summary: 'Metrics in the Prometheus text format',
      description:
        'For a Prometheus scrape: requests by method, route template and status (banger_http_requests_total) and their durations ' +
        '(banger_http_request_duration_seconds); job durations by kind and status (banger_job_duration_seconds) and stage durations by ' +
        'kind, stage and status (banger_job_stage_duration_seconds); VMs by state (banger_vms, every state listed); boot and restore ' +
        'phase durations (banger_vm_boot_phase_duration_seconds); the process (banger_process_*, banger_nodejs_*). Every label value ' +
        'comes from a fixed set. Counters and histograms start at zero when the daemon starts.',
      response: {
        200: Type.Unsafe<string>({ description: 'The metrics, one sample a line', content: { [prometheusText]: { schema: text(maxMetricsTextLength) } } }),
      },
    },
  }, async (_request, reply) => {
    const body = await metrics.render();
    return reply.type(metrics.contentType).send(body);
  });
};
