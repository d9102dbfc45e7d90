import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { acceptRawBodies, rawBodySchema, rawBodyType } from '../http/raw-body.js';
import { binaryStream } from '../schemas/bounds.js';
import { IdOrNameParamsSchema, problemResponses, ref } from '../schemas/common.js';
import { GuestPathQuerySchema, GuestWriteQuerySchema, WrittenPathSchema } from '../schemas/files.js';
import type { FileService } from '../services/files/file-service.js';
import { parseFileMode } from '../services/files/guest-path.js';
import { validationError } from '../services/errors.js';

const FILE = 'application/octet-stream';
const TAR = 'application/x-tar';

export function fileRoutes(files: FileService): FastifyPluginAsyncTypebox {
  return async (app) => {
    acceptRawBodies(app, [FILE, TAR]);

    app.get('/vms/:idOrName/files', {
      schema: {
        tags: ['vms'],
        operationId: 'readGuestFile',
        summary: 'Copy a file or a directory out of a running VM',
        description:
          'A regular file comes as application/octet-stream with its Content-Length and its mode in X-Banger-File-Mode; a directory ' +
          'comes as an application/x-tar stream of its contents (made by the guest’s tar). Symlinks are followed. Streams end to end ' +
          '(SFTP over the VM’s shell channel): nothing is held whole in the daemon. If the guest’s tar fails part-way the connection is ' +
          'cut, so a partial archive never looks complete.',
        params: IdOrNameParamsSchema,
        querystring: GuestPathQuerySchema,
        response: {
          200: Type.Unsafe({
            description: 'The file, or the directory as a tar archive',
            headers: {
              'x-banger-file-mode': { type: 'string', pattern: '^[0-7]{4}$', maxLength: 4, description: 'Octal permission bits of a regular file, e.g. 0644' },
            },
            content: { [FILE]: { schema: binaryStream() }, [TAR]: { schema: binaryStream() } },
          }),
          ...problemResponses(404, 409, 422, 429, 502),
        },
      },
    }, async (request, reply) => {
      const read = await files.read(request.params.idOrName, request.query.path);
      if (read.type === 'directory') return reply.type(TAR).send(read.stream);
      return reply.type(FILE).header('content-length', read.sizeBytes).header('x-banger-file-mode', read.mode).send(read.stream);
    });

    app.put('/vms/:idOrName/files', {
      schema: {
        tags: ['vms'],
        operationId: 'writeGuestFile',
        summary: 'Copy a file or a directory into a running VM',
        description:
          'application/octet-stream: the body becomes the file at path (written beside it and renamed into place when complete, so a ' +
          'transfer that breaks off leaves the old file or none). application/x-tar: the archive is unpacked into the directory at ' +
          'path (created, or merged into an existing one) by the guest’s tar, also only once it arrived whole. The body streams to ' +
          'the guest and has no size limit but the guest disk’s: a full disk is 507 guest-disk-full. Missing parents are 404 unless ' +
          'mkdirs=true.',
        params: IdOrNameParamsSchema,
        querystring: GuestWriteQuerySchema,
        body: rawBodySchema([FILE, TAR], 'The file’s bytes, or a tar archive of a directory’s contents'),
        response: {
          200: ref(WrittenPathSchema),
          ...problemResponses(404, 409, 415, 422, 429, 500, 502, 507),
        },
      },
    }, async (request) => {
      const type = rawBodyType(request, [FILE, TAR]);
      const { path, mkdirs } = request.query;
      const mode = request.query.mode === undefined ? undefined : parseFileMode(request.query.mode);
      if (typeof mode === 'object') throw validationError('The file mode is not valid', [mode]);
      if (type === TAR) return await files.writeDirectory(request.params.idOrName, path, request.raw, { mkdirs });
      return await files.writeFile(request.params.idOrName, path, request.raw, { mode, mkdirs });
    });
  };
}
