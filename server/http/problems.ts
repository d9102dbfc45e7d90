import type { ServerResponse } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { StoredProblem } from '../db/schema.js';
import { BangerError, problemFor, type FieldError } from '../services/errors.js';

export function sendProblem(reply: FastifyReply, problem: StoredProblem): FastifyReply {
  // Every 429 says when to come back (the rate limit sets its own; a full guest exec budget frees up within a second or so).
  if (problem.status === 429 && !reply.hasHeader('retry-after')) reply.header('retry-after', '1');
  return reply.code(problem.status).type('application/problem+json').send(problem);
}

/** For the few router hooks that get Node's raw response rather than a Fastify reply. */
export function writeRawProblem(res: ServerResponse, problem: StoredProblem): void {
  res.writeHead(problem.status, { 'content-type': 'application/problem+json; charset=utf-8' });
  res.end(JSON.stringify(problem));
}

const fieldHints: Record<string, string> = {
  name: 'use 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit',
};

/** For keys refused by an object's propertyNames, by the object's name. */
const keyHints: Record<string, string> = {
  labels: 'label keys are 1-63 letters, digits, ".", "_", "/" or "-", starting with a letter or digit',
};

/**
 * Turns every failure, ours or Fastify's, into application/problem+json. fullDisk names a failure
 * that a full disk caused as such (services/storage), whatever step met it.
 */
export function registerProblemHandlers(app: FastifyInstance, fullDisk: (error: unknown) => BangerError | undefined): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const full = fullDisk(error);
    if (full) {
      request.log.warn({ err: error }, 'a write met a full disk');
      return sendProblem(reply, full.toProblem());
    }
    if (error instanceof BangerError) return sendProblem(reply, error.toProblem());
    if (error.validation) {
      const errors = validationErrors(error);
      const detail = errors.map((e) => `${e.field}: ${e.message}`).join('; ');
      return sendProblem(reply, problemFor('validation-failed', detail, { errors, hint: errors[0]?.hint ?? 'check the request against GET /openapi.json' }));
    }
    switch (error.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return sendProblem(reply, problemFor('body-too-large', error.message, { hint: 'request bodies are small JSON documents; send paths, not file contents' }));
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return sendProblem(reply, problemFor('unsupported-media-type', error.message, { hint: 'send Content-Type: application/json' }));
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return sendProblem(reply, problemFor('validation-failed', `The body is not valid JSON: ${error.message}`, { hint: 'send a JSON object' }));
    }
    // Anything else Fastify refuses before a handler (a Content-Length that does not match the body, say) keeps its 400.
    if (error.statusCode === 400) {
      return sendProblem(reply, problemFor('bad-request', error.message, { hint: 'check the request against GET /openapi.json' }));
    }
    // The docs' file server refuses a path out of its dir (403) or one it does not hold (404): either way, nothing is there.
    if (error.statusCode === 403 || error.statusCode === 404) {
      return sendProblem(reply, problemFor('not-found', `Nothing at ${request.method} ${request.url}`, { hint: 'GET /openapi.json lists every route' }));
    }
    if (error.statusCode && error.statusCode < 500) {
      return sendProblem(reply, problemFor('validation-failed', error.message, { hint: 'check the request against GET /openapi.json' }));
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendProblem(reply, problemFor('internal', 'An unexpected error happened; the daemon log has the details', { hint: 'see the daemon log' }));
  });

  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, problemFor('not-found', `No route for ${request.method} ${request.url}`, { hint: 'GET /openapi.json lists every route' })),
  );
}

function validationErrors(error: FastifyError): FieldError[] {
  const context = error.validationContext ?? 'body';
  // A key that fails an object's propertyNames (labels) comes as its own failure, with propertyName set, then once more as
  // "property name must be valid", which adds nothing.
  const issues = (error.validation ?? []).filter((issue) => issue.keyword !== 'propertyNames');
  return issues.map((issue) => {
    const params = issue.params as Record<string, unknown>;
    const path = issue.instancePath.replace(/^\//, '').replaceAll('/', '.');
    const { propertyName } = issue as { propertyName?: string };
    if (propertyName !== undefined) {
      const hint = keyHints[path.split('.').pop() ?? ''];
      return { field: `${context}.${[path, propertyName].filter(Boolean).join('.')}`, message: `"${propertyName}" is not an allowed key: ${issue.message ?? 'invalid'}`, ...(hint ? { hint } : {}) };
    }
    if (issue.keyword === 'additionalProperties') {
      const field = [path, params.additionalProperty].filter(Boolean).join('.');
      return { field: `${context}.${field}`, message: `unknown field "${String(params.additionalProperty)}"`, hint: 'remove it; GET /openapi.json lists the accepted fields' };
    }
    if (issue.keyword === 'required') {
      const field = [path, params.missingProperty].filter(Boolean).join('.');
      return { field: `${context}.${field}`, message: 'is required' };
    }
    if (issue.keyword === 'enum') {
      const allowed = (params.allowedValues as unknown[]).map(String).join(', ');
      return { field: `${context}${path ? `.${path}` : ''}`, message: `must be one of: ${allowed}` };
    }
    const leaf = path.split('.').pop() ?? '';
    const hint = fieldHints[leaf];
    return { field: `${context}${path ? `.${path}` : ''}`, message: issue.message ?? 'is invalid', ...(hint ? { hint } : {}) };
  });
}
