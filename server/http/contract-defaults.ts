import { problemCatalogue, type ProblemCode } from '../services/errors.js';
import { docsPrefix, publicContractPath } from './auth.js';
import { minCompressedBytes } from './kept-answers.js';

/**
 * What every operation answers beyond its own statuses, written into the OpenAPI document from
 * the one place that knows the hooks that answer them (app.ts, http/*): the bearer token of the
 * TCP listener (401), its rate limit (429, with its headers on every answer), the shutdown (503),
 * a full disk (507), malformed URLs, parameters and headers (422), bodies the parsers refuse (400, 413, 415) and
 * faults (500). It changes only the document: the routes' own schemas, which Fastify validates
 * and serializes with, stay as they are.
 */

export const bearerSecurity = [{ bearer: [] as string[] }];

export const bearerSchemeDescription =
  `Required on the TCP listener (banger serve --listen), which answers 401 without it, except for GET ${publicContractPath} and the Swagger UI at ${docsPrefix}. ` +
  'The unix socket listener takes no token: its file mode (0660) decides who may connect, and it ignores the header.';

const tcpOnly = 'TCP listener only (the unix socket has no rate limit): ';

const headers = {
  RateLimitLimit: { name: 'X-RateLimit-Limit', description: `${tcpOnly}requests allowed a minute from this address`, schema: { type: 'integer', format: 'int32', minimum: 1, maximum: 1_000_000_000 } },
  RateLimitRemaining: { name: 'X-RateLimit-Remaining', description: `${tcpOnly}requests left in this minute`, schema: { type: 'integer', format: 'int32', minimum: 0, maximum: 1_000_000_000 } },
  RateLimitReset: { name: 'X-RateLimit-Reset', description: `${tcpOnly}seconds until the minute is over`, schema: { type: 'integer', format: 'int32', minimum: 0, maximum: 60 } },
  RetryAfter: { name: 'Retry-After', description: 'Seconds to wait before trying again (every 429 carries it)', schema: { type: 'integer', format: 'int32', minimum: 0, maximum: 60 } },
  WwwAuthenticate: { name: 'WWW-Authenticate', description: 'Always Bearer realm="banger"', schema: { type: 'string', maxLength: 64 } },
  ETag: {
    name: 'ETag',
    description: 'A strong tag of this page as sent (a hash of its bytes, with -br or -gzip when compressed): send it back in If-None-Match to get 304 while the page is unchanged',
    schema: { type: 'string', maxLength: 64 },
  },
  Vary: { name: 'Vary', description: 'Always accept-encoding: the page is sent plain or compressed as Accept-Encoding asks', schema: { type: 'string', enum: ['accept-encoding'] } },
  ContentEncoding: {
    name: 'Content-Encoding',
    description: `br or gzip when Accept-Encoding asked for it and the page is ${minCompressedBytes / 1024} KiB or more; absent for plain JSON`,
    schema: { type: 'string', enum: ['br', 'gzip'] },
  },
  JobLocation: { name: 'Location', description: 'The job to poll: /jobs/{id}', schema: { type: 'string', format: 'uri-reference', maxLength: 64 } },
  CreatedLocation: { name: 'Location', description: 'The new resource', schema: { type: 'string', format: 'uri-reference', maxLength: 300 } },
  IdempotentReplayed: {
    name: 'Idempotent-Replayed',
    description: 'Present (true) when this is the kept answer to an earlier request with the same Idempotency-Key, not a new one',
    schema: { type: 'string', enum: ['true'] },
  },
} as const;
type HeaderName = keyof typeof headers;

const rateLimitHeaders: HeaderName[] = ['RateLimitLimit', 'RateLimitRemaining', 'RateLimitReset'];

interface CommonResponse {
  status: number;
  code: ProblemCode;
  description: string;
  extraHeaders: HeaderName[];
  /** Only operations that take a request body (the content-type parsers answer these). */
  bodyOnly?: boolean;
  /** Only operations that change something: a write can meet a full disk. */
  changesOnly?: boolean;
}

const commonResponses: Record<string, CommonResponse> = {
  BadRequest: { status: 400, code: 'bad-request', description: 'The request could not be read (e.g. a Content-Length that does not match the body)', extraHeaders: [], bodyOnly: true },
  Unauthorized: { status: 401, code: 'unauthorized', description: 'TCP listener only: a missing or wrong bearer token', extraHeaders: ['WwwAuthenticate'] },
  BodyTooLarge: { status: 413, code: 'body-too-large', description: 'The body is over the limit (64 KiB for JSON)', extraHeaders: [], bodyOnly: true },
  UnsupportedMediaType: { status: 415, code: 'unsupported-media-type', description: 'The body is not of a content type this operation takes', extraHeaders: [], bodyOnly: true },
  ValidationFailed: { status: 422, code: 'validation-failed', description: 'A parameter, header or body field is not valid; errors[] names each', extraHeaders: [] },
  RateLimited: { status: 429, code: 'rate-limited', description: 'TCP listener only: too many requests a minute from this address (BANGER_TCP_RATE_LIMIT)', extraHeaders: ['RetryAfter'] },
  Internal: { status: 500, code: 'internal', description: 'An unexpected fault; the daemon log has the details', extraHeaders: [] },
  InsufficientStorage: {
    status: 507,
    code: 'insufficient-storage',
    description: "The daemon's state filesystem is below BANGER_MIN_FREE_SPACE (new VMs, images, snapshots), or a write met a full disk; freeBytes says what is free",
    extraHeaders: [],
    changesOnly: true,
  },
  ShuttingDown: { status: 503, code: 'shutting-down', description: 'The daemon is shutting down; retry once it is back', extraHeaders: [] },
};

const methods = ['get', 'put', 'post', 'delete', 'patch'] as const;
const bodyMethods = new Set<string>(['put', 'post', 'delete', 'patch']);

type Json = Record<string, unknown>;
const headerRef = (name: HeaderName): Json => ({ $ref: `#/components/headers/${name}` });

/** @fastify/swagger's transformObject: the finished document, with what every operation shares. */
export function withContractDefaults(documentObject: { openapiObject: object } | { swaggerObject: object }): Json {
  if (!('openapiObject' in documentObject)) throw new Error('banger describes itself as OpenAPI 3, not Swagger 2');
  const document = documentObject.openapiObject as Json & { paths?: Record<string, Record<string, Json>>; components?: Json };
  const components = (document.components ??= {}) as Json;
  components.headers = Object.fromEntries(Object.entries(headers).map(([key, { description, schema }]) => [key, { description, schema }]));
  components.responses = Object.fromEntries(
    Object.entries(commonResponses).map(([key, response]) => [
      key,
      {
        description: `${response.description} (code ${response.code}, ${problemCatalogue[response.code].title.toLowerCase()})`,
        headers: headersOf(response.status, response.extraHeaders),
        content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
      },
    ]),
  );
  for (const [path, operations] of Object.entries(document.paths ?? {})) {
    for (const method of methods) {
      const operation = operations[method] as (Json & { responses?: Record<string, Json> }) | undefined;
      if (!operation) continue;
      // The same rule http/auth.ts applies: an empty list is no security, so no 401 either.
      operation.security ??= path === publicContractPath ? [] : bearerSecurity;
      const open = (operation.security as unknown[]).length === 0;
      const responses = (operation.responses ??= {});
      const idempotent = method === 'post' && hasHeaderParameter(operation, 'idempotency-key');
      const conditional = '304' in responses;
      for (const [status, response] of Object.entries(responses)) {
        if ('$ref' in response) continue;
        // @fastify/swagger gives every response schema a JSON body; a 304 has none.
        if (status === '304') delete response.content;
        const own = answerHeaders(Number(status), { idempotent, conditional });
        response.headers = { ...headersOf(Number(status), own), ...((response.headers as Json | undefined) ?? {}) };
      }
      for (const [key, common] of Object.entries(commonResponses)) {
        if ((common.bodyOnly || common.changesOnly) && !bodyMethods.has(method)) continue;
        if (open && common.status === 401) continue;
        responses[String(common.status)] ??= { $ref: `#/components/responses/${key}` };
      }
      operation.responses = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)));
    }
  }
  return document;
}

/**
 * The headers the routes and hooks set on an operation's own answers: Location on 201 and 202
 * (routes/*), Idempotent-Replayed on a POST's replayed 2xx (http/idempotency.ts), ETag and Vary on a
 * conditional list's 200 and 304, and Content-Encoding on its 200 (http/kept-answers.ts).
 */
function answerHeaders(status: number, { idempotent, conditional }: { idempotent: boolean; conditional: boolean }): HeaderName[] {
  const names: HeaderName[] = [];
  if (status === 202) names.push('JobLocation');
  if (status === 201) names.push('CreatedLocation');
  if (idempotent && status >= 200 && status < 300) names.push('IdempotentReplayed');
  if (conditional && (status === 200 || status === 304)) names.push('ETag', 'Vary');
  if (conditional && status === 200) names.push('ContentEncoding');
  return names;
}

function hasHeaderParameter(operation: Json, name: string): boolean {
  const parameters = (operation.parameters as Array<{ in?: string; name?: string }> | undefined) ?? [];
  return parameters.some((parameter) => parameter.in === 'header' && parameter.name?.toLowerCase() === name);
}

/** Every answer but a fault carries the rate limit's headers (on the TCP listener). */
function headersOf(status: number, extra: HeaderName[]): Json {
  const names = [...(status >= 500 ? [] : rateLimitHeaders), ...(status === 429 && !extra.includes('RetryAfter') ? ['RetryAfter' as const] : []), ...extra];
  return Object.fromEntries(names.map((name) => [headers[name].name, headerRef(name)]));
}
