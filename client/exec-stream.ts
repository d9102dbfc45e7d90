import { ProblemError } from './errors.js';
import { ndjsonLines } from './event-stream.js';
import { segment, type ByteSource, type Transport } from './transport.js';
import type { ExecEvent, ExecRequest, StdinSent } from './types.js';

export interface ExecOptions {
  signal?: AbortSignal;
  /**
   * The program's standard input, for a body with `stdinStream: true`: sent once the exec has
   * started, while its events come. It is consumed (and destroyed) by the upload.
   */
  stdin?: ByteSource;
}

export async function sendExecStdin(transport: Transport, idOrName: string, execId: string, source: ByteSource, signal?: AbortSignal): Promise<StdinSent> {
  const path = `/vms/${segment(idOrName)}/execs/${segment(execId)}/stdin`;
  return (await transport.json<StdinSent>('PUT', path, { bytes: { contentType: 'application/octet-stream', source }, signal })).body;
}

export async function* execEventStream(transport: Transport, idOrName: string, body: ExecRequest, options: ExecOptions): AsyncGenerator<ExecEvent> {
  const { stdin, signal } = options;
  if (stdin !== undefined && body.stdinStream !== true) throw new TypeError('exec: the stdin option needs stdinStream: true in the request body');
  const stream = await transport.stream(`/vms/${segment(idOrName)}/exec`, { body, signal }, 'POST', 'application/x-ndjson');
  // Aborted once the events end: a program that exits without reading all its input must not
  // leave the upload waiting on a source (a terminal, say) that may never end.
  const uploadOver = new AbortController();
  let uploadFailure: Error | undefined;
  try {
    for await (const line of ndjsonLines(stream)) {
      const event = JSON.parse(line) as ExecEvent;
      if (event.type === 'started' && stdin !== undefined) {
        const uploadSignal = signal ? AbortSignal.any([signal, uploadOver.signal]) : uploadOver.signal;
        sendExecStdin(transport, idOrName, event.execId, stdin, uploadSignal).catch((error: unknown) => {
          if (uploadOver.signal.aborted || programEnded(error)) return;
          uploadFailure = error instanceof Error ? error : new Error(String(error));
          // Hanging up kills the program, which would otherwise wait for input forever, and makes
          // this loop throw the upload's error instead of hanging.
          stream.destroy(uploadFailure);
        });
      }
      yield event;
    }
    // The upload may have failed as the events ended: its program then had a cut input.
    if (uploadFailure) throw uploadFailure;
  } finally {
    uploadOver.abort();
    if (!stream.destroyed) stream.destroy();
  }
}

/** The program ended before its input was asked for: its exit event is on the way, no failure. */
function programEnded(error: unknown): boolean {
  return error instanceof ProblemError && error.code === 'exec-not-found';
}
