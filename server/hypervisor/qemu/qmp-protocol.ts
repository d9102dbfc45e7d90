/**
 * QMP wire format: QEMU writes one JSON object per line (CRLF-terminated); the
 * client sends JSON objects and may tag each with an "id" that QEMU copies into
 * its answer. Events are interleaved with answers at any time.
 */

export type QmpMessage =
  | { kind: 'greeting' }
  | { kind: 'return'; id: string | undefined; value: unknown }
  | { kind: 'error'; id: string | undefined; errorClass: string; description: string }
  | { kind: 'event'; event: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** null for anything that is not a QMP message, so a garbled line cannot crash the client. */
export function parseQmpMessage(line: string): QmpMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (!isRecord(value)) return null;
  const id = typeof value.id === 'string' ? value.id : undefined;
  if ('QMP' in value) return { kind: 'greeting' };
  if ('return' in value) return { kind: 'return', id, value: value.return };
  if (isRecord(value.error)) {
    const errorClass = typeof value.error.class === 'string' ? value.error.class : 'GenericError';
    const description = typeof value.error.desc === 'string' ? value.error.desc : 'unknown error';
    return { kind: 'error', id, errorClass, description };
  }
  if (typeof value.event === 'string') return { kind: 'event', event: value.event };
  return null;
}

const COMMAND_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;

export function formatQmpCommand(command: string, args: Record<string, unknown> | undefined, id: string): string {
  if (!COMMAND_NAME.test(command)) throw new Error(`invalid QMP command name: ${JSON.stringify(command)}`);
  return `${JSON.stringify(args === undefined ? { execute: command, id } : { execute: command, arguments: args, id })}\n`;
}

// query-* answers are a few KiB; anything this long without a newline is not QMP.
const MAX_LINE_CHARS = 1024 * 1024;

/** Splits a byte stream into lines, keeping an unfinished line for the next chunk. */
export class QmpLineSplitter {
  private pending = '';

  push(chunk: string): string[] {
    this.pending += chunk;
    const parts = this.pending.split('\n');
    this.pending = parts.pop() ?? '';
    if (this.pending.length > MAX_LINE_CHARS) throw new Error(`QMP line longer than ${MAX_LINE_CHARS} characters`);
    return parts.map((line) => line.replace(/\r$/, '')).filter((line) => line.trim() !== '');
  }
}
