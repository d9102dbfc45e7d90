import { Type, type SchemaOptions, type Static, type TSchema, type TUnsafe } from '@sinclair/typebox';
import { maxFieldErrors, maxFieldLength, maxHintLength, maxMessageLength } from '../domain/limits.js';
import { byteCount, cursorString, integer, maxPageSize, message, pathString, text } from './bounds.js';
import { minCompressedBytes } from '../http/kept-answers.js';

/** A reference to a shared schema (one $id, one OpenAPI component) that keeps its static type. */
export function ref<T extends TSchema>(schema: T, options: SchemaOptions = {}): TUnsafe<Static<T>> {
  if (!schema.$id) throw new Error('ref() needs a schema with an $id');
  return Type.Unsafe<Static<T>>(Type.Ref(schema.$id, options));
}

export const FieldErrorSchema = Type.Object(
  {
    field: text(maxFieldLength, { description: 'The request field at fault, e.g. rootfsPath or body.name' }),
    message: text(maxHintLength),
    hint: Type.Optional(text(maxHintLength)),
  },
  { $id: 'FieldError', additionalProperties: false },
);

export const ProblemSchema = Type.Object(
  {
    type: text(128, { description: 'urn:banger:problem:<code>' }),
    title: text(256),
    status: integer(100, 599),
    code: text(64, { description: 'Stable, machine-readable error code' }),
    detail: message({ description: `Cut in the middle beyond ${maxMessageLength} characters; the log at logPath, when there is one, has the full output` }),
    hint: Type.Optional(text(maxHintLength, { description: 'What to do about it' })),
    logPath: Type.Optional(pathString({ description: 'Host path of the log with the full output' })),
    errors: Type.Optional(Type.Array(ref(FieldErrorSchema), { maxItems: maxFieldErrors, description: `The first ${maxFieldErrors} fields at fault` })),
    freeBytes: Type.Optional(byteCount({ description: "insufficient-storage: bytes free on the daemon's state filesystem" })),
    neededBytes: Type.Optional(byteCount({ description: 'insufficient-storage: bytes the refused work needed free (absent when a write met a full disk)' })),
  },
  { $id: 'Problem', description: 'An RFC 9457 problem; always served as application/problem+json' },
);

export const PageQuerySchema = Type.Object(
  {
    limit: Type.Optional(integer(1, maxPageSize, { description: 'Page size (default 50)' })),
    cursor: Type.Optional(cursorString({ description: 'nextCursor from the previous page' })),
  },
  { additionalProperties: false },
);

export const IdOrNameParamsSchema = Type.Object({
  idOrName: Type.String({ minLength: 1, maxLength: 255 }),
});

export const IdParamsSchema = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64 }),
});

export const IdempotencyHeadersSchema = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      description:
        'Makes a retried POST safe. Once a request with this key is accepted (2xx), its response is kept for 24 h and a replay of the same request ' +
        '(method, URL and body, compared as canonical JSON) gets it again with Idempotent-Replayed: true. A refusal (4xx) or fault (5xx) is not kept, ' +
        'so the same key can be retried once the cause is fixed. While the first request is being handled, another with the key gets 409 ' +
        'idempotency-key-in-flight; the key with a different request gets 422 idempotency-key-reused.',
    }),
  ),
});

const problemDescriptions: Record<number, string> = {
  401: 'Missing or invalid bearer token',
  404: 'Not found',
  409: 'Conflict with the current state',
  413: 'Request body too large',
  415: 'Unsupported content type',
  422: 'Invalid request',
  429: 'Too many at once',
  500: 'The operation failed',
  502: 'The guest did not answer',
  503: 'Shutting down',
  507: "Not enough space: the guest's filesystem is full (guest-disk-full), or the daemon's state filesystem (insufficient-storage)",
};

/** Problem responses for the given statuses, described as application/problem+json. */
/** The request headers of a list that answers conditional GETs (http/kept-answers.ts). */
export const ListRequestHeadersSchema = Type.Object({
  'accept-encoding': Type.Optional(
    Type.String({
      maxLength: 1024,
      description:
        `br or gzip (by q-value, br when both are equally welcome) gets a page of ${minCompressedBytes / 1024} KiB or more compressed, about a fifteenth of its size; ` +
        'each compressed page is made once and kept while the page is unchanged. Without it, or with neither, the page is plain JSON.',
    }),
  ),
  'if-none-match': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 1024,
      description:
        'The ETag of an earlier answer (or several, comma-separated, or *): while the page is still that answer, the reply is 304 with no body. ' +
        'A poller that sends back the last ETag pays for a page only when it changed.',
    }),
  ),
});

/** 304 to a conditional GET; its ETag and Vary headers are added to the contract with the 200's (http/contract-defaults.ts). */
export const notModifiedResponse = {
  304: Type.Unsafe<void>({ description: 'Not modified: the page is still the one whose ETag came in If-None-Match; no body' }),
};

export function problemResponses(...statuses: number[]): Record<number, TSchema> {
  const responses: Record<number, TSchema> = {};
  for (const status of statuses) {
    responses[status] = Type.Unsafe({
      description: problemDescriptions[status] ?? 'Error',
      content: { 'application/problem+json': { schema: ref(ProblemSchema) } },
    });
  }
  return responses;
}

export const sharedSchemas = [FieldErrorSchema, ProblemSchema];
