/** One dispatched server-sent event, before its data is interpreted. */
export interface ServerSentEvent {
  id: string | undefined;
  event: string;
  data: string;
}

/**
 * Parses a text/event-stream body as the WHATWG spec describes: lines end in LF, CRLF or CR, a
 * blank line dispatches, `:` starts a comment (the server's heartbeats), and the last seen id
 * carries over to later events that have none.
 */
export async function* parseEventStream(chunks: AsyncIterable<Uint8Array | string>): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  let lastId: string | undefined;
  let eventType = '';
  let data: string[] = [];

  const lineEvent = (line: string): ServerSentEvent | undefined => {
    if (line === '') {
      const dispatched = data.length > 0 ? { id: lastId, event: eventType || 'message', data: data.join('\n') } : undefined;
      eventType = '';
      data = [];
      return dispatched;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') eventType = value;
    else if (field === 'id' && !value.includes('\0')) lastId = value;
    return undefined;
  };

  for await (const chunk of chunks) {
    buffer += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    for (;;) {
      const match = /\r\n|\r|\n/.exec(buffer);
      // A trailing CR may be the first half of a CRLF split across chunks: wait for more.
      if (!match || (match[0] === '\r' && match.index === buffer.length - 1)) break;
      const line = buffer.slice(0, match.index);
      buffer = buffer.slice(match.index + match[0].length);
      const event = lineEvent(line);
      if (event) yield event;
    }
  }
  // Per the spec an event not ended by a blank line when the stream closes is dropped.
}

/** The lines of an application/x-ndjson body, without their newlines; blank lines are skipped. */
export async function* ndjsonLines(chunks: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of chunks) {
    buffer += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffer.indexOf('\n')) !== -1) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (line !== '') yield line;
    }
  }
  buffer += decoder.decode();
  if (buffer.trim() !== '') yield buffer.trim();
}
