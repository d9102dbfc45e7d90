import { request } from 'node:http';
import type { TestDaemon } from './daemon.js';

/** The events of one exec stream, with the output of each stream joined into bytes. */
export interface ExecResult {
  status: number;
  events: any[];
  stdout: Buffer;
  stderr: Buffer;
  exit: any;
  /** The problem, when the answer was not a stream. */
  problem?: any;
}

export function outputOf(events: any[], stream: 'stdout' | 'stderr'): Buffer {
  return Buffer.concat(
    events.filter((event) => event.type === 'output' && event.stream === stream).map((event) => Buffer.from(event.data, event.encoding === 'base64' ? 'base64' : 'utf8')),
  );
}

/** POST /vms/{vm}/exec, read to the end. */
export async function execIn(daemon: TestDaemon, vm: string, body: unknown): Promise<ExecResult> {
  const res = await daemon.http('POST', `/vms/${encodeURIComponent(vm)}/exec`, body);
  if (res.status !== 200) return { status: res.status, events: [], stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exit: undefined, problem: res.body };
  const events = res.text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line));
  return { status: res.status, events, stdout: outputOf(events, 'stdout'), stderr: outputOf(events, 'stderr'), exit: events.find((event) => event.type === 'exit') };
}

/** Starts an exec and hangs up once its first stdout arrives, as a client that goes away would. */
export function execThenHangUp(daemon: TestDaemon, vm: string, body: unknown): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath: daemon.socketPath, path: `/vms/${encodeURIComponent(vm)}/exec`, method: 'POST', headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          if (text.includes('"stream":"stdout"')) {
            req.destroy();
            resolve(text);
          }
        });
        res.on('end', () => reject(new Error(`the stream ended before any stdout: ${text}`)));
      },
    );
    req.on('error', (error) => ((error as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(error)));
    req.end(JSON.stringify(body));
  });
}
