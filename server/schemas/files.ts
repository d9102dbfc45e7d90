import { Type, type Static } from '@sinclair/typebox';
import { byteCount, idString, text } from './bounds.js';

export const GuestPathQuerySchema = Type.Object({
  path: Type.String({ minLength: 1, maxLength: 4095, description: 'Absolute path in the guest' }),
});

export const GuestWriteQuerySchema = Type.Object({
  path: Type.String({ minLength: 1, maxLength: 4095, description: 'Absolute path in the guest: the file to write, or the directory to unpack into' }),
  mode: Type.Optional(
    Type.String({ maxLength: 5, pattern: '^0?[0-7]{3,4}$', description: "Octal permission bits of a file (default: the replaced file's, else 0644); ignored for tar" }),
  ),
  mkdirs: Type.Optional(Type.Boolean({ description: 'Create missing parent directories (0755) instead of answering 404 (default false)' })),
});
export type GuestWriteQuery = Static<typeof GuestWriteQuerySchema>;

/** A file's permission bits as the server answers them: four octal digits (guest-path.ts formatFileMode). */
export const fileModeString = (options: { description?: string } = {}) => Type.String({ maxLength: 4, pattern: '^[0-7]{4}$', ...options });

export const WrittenPathSchema = Type.Object(
  {
    path: text(4095, { description: 'The path written, made plain (no trailing slash, no . or ..)' }),
    type: Type.Union([Type.Literal('file'), Type.Literal('directory')]),
    sizeBytes: byteCount({ description: "The bytes received: the file's size, or the tar archive's" }),
    sha256: Type.Optional(text(64, { description: "Of the file's content as written (files only)" })),
    mode: Type.Optional(fileModeString({ description: 'Octal permission bits, e.g. 0644 (files only)' })),
  },
  { $id: 'WrittenPath', additionalProperties: false },
);

export const ExecStdinParamsSchema = Type.Object({
  idOrName: Type.String({ minLength: 1, maxLength: 255 }),
  execId: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }),
});

export const StdinSentSchema = Type.Object(
  {
    execId: idString(),
    sizeBytes: byteCount({ description: 'Bytes passed to the program; its stdin is then closed' }),
  },
  { $id: 'StdinSent', additionalProperties: false },
);

export const fileSchemas = [WrittenPathSchema, StdinSentSchema];
