import { isUtf8 } from 'node:buffer';

/**
 * Output as JSON text where it is UTF-8, base64 where it is not, so that both a person reading a
 * stream with curl and a program piping binary output get what the guest wrote. A chunk that
 * ends inside a multi-byte character keeps that tail for the next one.
 */

export interface OutputData {
  data: string;
  encoding: 'utf8' | 'base64';
}

/** How many bytes at the end of buffer begin a UTF-8 character that continues past it. */
function incompleteTail(buffer: Buffer): number {
  for (let back = 1; back <= Math.min(3, buffer.length); back++) {
    const byte = buffer[buffer.length - back] as number;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return length > back ? back : 0;
  }
  return 0;
}

export class OutputDecoder {
  private carry: Buffer = Buffer.alloc(0);

  /** null when everything so far is held back (an unfinished character). */
  write(chunk: Buffer): OutputData | null {
    const bytes = this.carry.length === 0 ? chunk : Buffer.concat([this.carry, chunk]);
    const keep = incompleteTail(bytes);
    const ready = bytes.subarray(0, bytes.length - keep);
    this.carry = Buffer.from(bytes.subarray(bytes.length - keep));
    if (ready.length === 0) return null;
    return encode(ready);
  }

  /** What is left at the end: an unfinished character, as base64. */
  end(): OutputData | null {
    if (this.carry.length === 0) return null;
    const rest = this.carry;
    this.carry = Buffer.alloc(0);
    return encode(rest);
  }
}

function encode(bytes: Buffer): OutputData {
  return isUtf8(bytes) ? { data: bytes.toString('utf8'), encoding: 'utf8' } : { data: bytes.toString('base64'), encoding: 'base64' };
}

/** The bytes an OutputData stands for. */
export function outputBytes(output: OutputData): Buffer {
  return Buffer.from(output.data, output.encoding === 'base64' ? 'base64' : 'utf8');
}
