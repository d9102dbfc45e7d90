import { Type, type Static } from '@sinclair/typebox';
import { maxJsonBodyBytes, maxSignalNameLength } from '../domain/limits.js';
import { idString, integer, milliseconds, nullable, text } from './bounds.js';

export const ExecBodySchema = Type.Object(
  {
    command: Type.Array(Type.String({ maxLength: 65_536 }), {
      minItems: 1,
      maxItems: 4096,
      description: 'argv: the program (looked up in the guest PATH) and its arguments, each passed as one word, never through a shell',
    }),
    env: Type.Optional(
      Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), Type.String({ maxLength: 65_536 }), {
        maxProperties: 256,
        description: 'Environment variables added to the guest login environment',
      }),
    ),
    cwd: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, pattern: '^/', description: 'Absolute working directory in the guest (default /root)' })),
    user: Type.Optional(Type.String({ maxLength: 32, pattern: '^[a-z_][a-z0-9_-]{0,31}$', description: 'Run as this guest user instead of root' })),
    // Bounded by the JSON body limit already; stdinStream is for more.
    stdin: Type.Optional(
      text(maxJsonBodyBytes, { description: 'Standard input as text; the program sees end-of-file after it (and at once without stdin). Within the 64 KiB JSON body; use stdinStream for more' }),
    ),
    stdinBase64: Type.Optional(text(maxJsonBodyBytes, { description: 'Standard input as base64, for bytes that are not text. Within the 64 KiB JSON body' })),
    stdinStream: Type.Optional(
      Type.Boolean({
        description:
          'Standard input comes from PUT /vms/{idOrName}/execs/{execId}/stdin (execId from the started event), for input of any size; ' +
          'the program waits for it (bound it with timeoutSeconds)',
      }),
    ),
    timeoutSeconds: Type.Optional(integer(1, 86_400, { description: 'Kill the program and everything it started after this long' })),
  },
  { $id: 'ExecRequest', additionalProperties: false },
);
export type ExecBody = Static<typeof ExecBodySchema>;

/**
 * ssh2 refuses SSH packets over 35000 bytes and emits each channel data packet as one chunk;
 * the decoder adds at most 3 bytes held back from the chunk before (output-chunks.ts). As base64
 * that is at most 46672 characters, and as text no more characters than bytes.
 */
const maxOutputDataLength = 65_536;

const OutputEncoding = Type.Union([Type.Literal('utf8'), Type.Literal('base64')], {
  description: 'utf8: data is the text as written; base64: the bytes were not valid UTF-8',
});

export const ExecEventSchema = Type.Union(
  [
    Type.Object({ type: Type.Literal('started'), execId: idString() }, { additionalProperties: false }),
    Type.Object(
      {
        type: Type.Literal('output'),
        stream: Type.Union([Type.Literal('stdout'), Type.Literal('stderr')]),
        data: text(maxOutputDataLength, {
          description: 'One piece of output as the guest sent it: at most one SSH packet (35000 bytes), so at most 46672 characters as base64',
        }),
        encoding: OutputEncoding,
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        type: Type.Literal('exit'),
        exitCode: nullable(integer(0, 4_294_967_295), {
          description: "The program's exit status, 0-255 (SSH carries it as an unsigned 32-bit number); null when a signal ended the program",
        }),
        signal: nullable(text(maxSignalNameLength), { description: 'The signal that ended it, without SIG (e.g. KILL)' }),
        timedOut: Type.Boolean({ description: 'banger killed it when timeoutSeconds passed' }),
        durationMs: milliseconds(),
      },
      { additionalProperties: false },
    ),
  ],
  {
    $id: 'ExecEvent',
    description: 'One line of an exec stream: started first, output as it happens, exit last (unless the guest connection broke, then the stream just ends)',
  },
);
export type ExecEventBody = Static<typeof ExecEventSchema>;

export const execSchemas = [ExecBodySchema, ExecEventSchema];
