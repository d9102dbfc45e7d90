import { Type, type Static } from '@sinclair/typebox';

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
    user: Type.Optional(Type.String({ pattern: '^[a-z_][a-z0-9_-]{0,31}$', description: 'Run as this guest user instead of root' })),
    stdin: Type.Optional(Type.String({ description: 'Standard input as text; the program sees end-of-file after it (and at once without stdin)' })),
    stdinBase64: Type.Optional(Type.String({ description: 'Standard input as base64, for bytes that are not text' })),
    stdinStream: Type.Optional(
      Type.Boolean({
        description:
          'Standard input comes from PUT /vms/{idOrName}/execs/{execId}/stdin (execId from the started event), for input of any size; ' +
          'the program waits for it (bound it with timeoutSeconds)',
      }),
    ),
    timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400, description: 'Kill the program and everything it started after this long' })),
  },
  { $id: 'ExecRequest', additionalProperties: false },
);
export type ExecBody = Static<typeof ExecBodySchema>;

const OutputEncoding = Type.Union([Type.Literal('utf8'), Type.Literal('base64')], {
  description: 'utf8: data is the text as written; base64: the bytes were not valid UTF-8',
});

export const ExecEventSchema = Type.Union(
  [
    Type.Object({ type: Type.Literal('started'), execId: Type.String() }, { additionalProperties: false }),
    Type.Object(
      {
        type: Type.Literal('output'),
        stream: Type.Union([Type.Literal('stdout'), Type.Literal('stderr')]),
        data: Type.String(),
        encoding: OutputEncoding,
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        type: Type.Literal('exit'),
        exitCode: Type.Union([Type.Integer(), Type.Null()], { description: 'null when a signal ended the program' }),
        signal: Type.Union([Type.String(), Type.Null()], { description: 'The signal that ended it, without SIG (e.g. KILL)' }),
        timedOut: Type.Boolean({ description: 'banger killed it when timeoutSeconds passed' }),
        durationMs: Type.Integer(),
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
