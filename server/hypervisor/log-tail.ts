import { open } from 'node:fs/promises';

/**
 * The end of a log that may be large (a console log grows for as long as the VM
 * runs): at most maxBytes from its end, starting at a line boundary. '' when the
 * file does not exist yet.
 */
export async function readLogTail(path: string, maxBytes = 16 * 1024): Promise<string> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - maxBytes);
    const buffer = Buffer.alloc(size - start);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, start);
    const text = buffer.subarray(0, bytesRead).toString('utf8');
    // A cut in the middle would start with half a line (or half a character).
    return start === 0 ? text : text.slice(text.indexOf('\n') + 1);
  } finally {
    await handle.close();
  }
}

/** The last count lines, without the carriage returns a serial console writes. */
export function lastLines(text: string, count: number): string {
  const lines = text.replace(/\r/g, '').split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.slice(-count).join('\n');
}
