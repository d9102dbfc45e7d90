import type { FastifyInstance, FastifyRequest } from 'fastify';
import { binaryStream } from '../schemas/bounds.js';
import { BangerError } from '../services/errors.js';

/**
 * Routes whose body is bytes to pass on (a file, a tar archive, a program's stdin): the body is
 * left unread for the handler to stream from request.raw, so it never sits whole in the daemon
 * and the JSON body limit does not apply. Register in the routes' own plugin scope.
 */
export function acceptRawBodies(scope: FastifyInstance, types: readonly string[]): void {
  // The body is '' to the schema (bytes as a binary string, which it checks by type only); the
  // handler reads the bytes themselves from request.raw.
  scope.addContentTypeParser([...types], (_request, _payload, done) => done(null, ''));
  // An answer before the body was read whole (a refusal, a full disk) leaves the rest of the body
  // on the connection: closing it keeps a client from sending its next request into that.
  scope.addHook('onSend', async (request, reply) => {
    if (!request.raw.complete) reply.header('connection', 'close');
  });
}

/** The OpenAPI request body for such a route. */
export function rawBodySchema(types: readonly string[], description: string): { content: Record<string, { schema: object }>; description: string } {
  return {
    description,
    content: Object.fromEntries(types.map((type) => [type, { schema: binaryStream() }])),
  };
}

/** The media type sent, when it is one of types; otherwise a 415 naming them. */
export function rawBodyType(request: FastifyRequest, types: readonly string[]): string {
  const sent = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (types.includes(sent)) return sent;
  throw new BangerError('unsupported-media-type', `This route takes ${types.join(' or ')}, not ${sent || 'a body without a content type'}`, {
    hint: `send Content-Type: ${types[0]}`,
  });
}
