import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { brotliDecompress, gunzip } from 'node:zlib';
import { Agent, request, type Dispatcher } from 'undici';
import { explainConnectionError, problemFromResponse, ProblemError } from './errors.js';

export interface Endpoint {
  socketPath?: string;
  baseUrl?: string;
  token?: string;
}

/**
 * Bytes for a request body: a Buffer is sent whole; a Node Readable or any async iterable of
 * chunks (a tar packer, a generator) is streamed as it produces them, so its size is unbounded.
 */
export type ByteSource = Readable | Uint8Array | AsyncIterable<Uint8Array>;

export interface CallOptions {
  query?: Record<string, string | number | boolean | undefined>;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as they are with this content type, instead of a JSON body. */
  bytes?: { contentType: string; source: ByteSource };
  headers?: Record<string, string | undefined>;
  signal?: AbortSignal;
}

export interface JsonResponse<T> {
  status: number;
  body: T;
}

/** A 2xx answer whose body the caller reads itself. */
export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Dispatcher.ResponseData['body'];
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** One connection pool to one daemon, speaking JSON and turning problems into ProblemError. */
export class Transport {
  private readonly agent: Agent;
  private readonly origin: string;
  private readonly endpoint: Endpoint;

  constructor(endpoint: Endpoint) {
    if ((endpoint.socketPath === undefined) === (endpoint.baseUrl === undefined)) {
      throw new TypeError('createClient needs exactly one of socketPath or baseUrl');
    }
    this.endpoint = endpoint;
    // No idle timeouts: an exec stream stays silent while its program computes, and a file PUT is
    // answered only once the whole file is in the guest; undici's 300 s defaults cut both.
    const unbounded = { headersTimeout: 0, bodyTimeout: 0 };
    if (endpoint.socketPath !== undefined) {
      this.agent = new Agent({ ...unbounded, connect: { socketPath: endpoint.socketPath } });
      // The host is never resolved: the socket is the address, the name only fills the Host header.
      this.origin = 'http://banger';
    } else {
      const url = new URL(endpoint.baseUrl as string);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new TypeError(`baseUrl must be an http(s) URL, got ${endpoint.baseUrl}`);
      }
      this.agent = new Agent(unbounded);
      this.origin = url.href.replace(/\/+$/, '');
    }
  }

  async json<T>(method: Method, path: string, options: CallOptions = {}): Promise<JsonResponse<T>> {
    // Over TCP a daemon may be far away: its list pages (~58 KiB for 50 VMs) come compressed (~4 KiB).
    // On the unix socket the copy is cheaper than the decompression.
    const compressed = this.endpoint.baseUrl !== undefined ? { headers: { 'accept-encoding': 'br, gzip', ...options.headers } } : {};
    const response = await this.send(method, path, { ...options, ...compressed }, 'application/json');
    const text = await decodedText(response);
    return { status: response.statusCode, body: (text === '' ? undefined : JSON.parse(text)) as T };
  }

  /** The raw body of a 2xx answer, for streams the caller reads itself. */
  async stream(path: string, options: CallOptions = {}, method: Method = 'GET', accept = 'text/event-stream'): Promise<Dispatcher.ResponseData['body']> {
    return (await this.raw(method, path, options, accept)).body;
  }

  /** A 2xx answer with its headers, for bodies whose meaning the headers tell (a file or an archive). */
  async raw(method: Method, path: string, options: CallOptions, accept: string): Promise<RawResponse> {
    const response = await this.send(method, path, options, accept);
    return { status: response.statusCode, headers: response.headers, body: response.body };
  }

  close(): Promise<void> {
    return this.agent.close();
  }

  private async send(method: Method, path: string, options: CallOptions, accept: string): Promise<Dispatcher.ResponseData> {
    const { payload, contentType } = requestPayload(options);
    const headers: Record<string, string> = { accept: `${accept}, application/problem+json` };
    if (contentType !== undefined) headers['content-type'] = contentType;
    if (this.endpoint.token !== undefined && this.endpoint.baseUrl !== undefined) {
      headers.authorization = `Bearer ${this.endpoint.token}`;
    }
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      if (value !== undefined) headers[name] = value;
    }
    let response: Dispatcher.ResponseData;
    try {
      response = await request(this.origin + path + queryString(options.query), {
        method,
        headers,
        body: payload,
        dispatcher: this.agent,
        signal: options.signal,
      });
    } catch (error) {
      throw explainConnectionError(error, this.endpoint);
    }
    if (response.statusCode >= 200 && response.statusCode < 300) return response;
    const text = await response.body.text().catch(() => '');
    throw new ProblemError(problemFromResponse(response.statusCode, text));
  }
}

function requestPayload(options: CallOptions): { payload?: string | Uint8Array | Readable; contentType?: string } {
  if (options.bytes !== undefined) return { payload: streamable(options.bytes.source), contentType: options.bytes.contentType };
  if (options.body !== undefined) return { payload: JSON.stringify(options.body), contentType: 'application/json' };
  return {};
}

/**
 * undici sends a Node Readable chunked, without a content-length, and destroys it when the
 * request ends or fails. Its request() is typed for no other iterables, so those (generators,
 * tar's minipass streams) are wrapped into a Readable.
 */
function streamable(source: ByteSource): Uint8Array | Readable {
  if (source instanceof Uint8Array || source instanceof Readable) return source;
  return Readable.from(source, { objectMode: false });
}

const decoders: Record<string, (bytes: Buffer) => Promise<Buffer>> = { br: promisify(brotliDecompress), gzip: promisify(gunzip) };

async function decodedText(response: Dispatcher.ResponseData): Promise<string> {
  const coding = response.headers['content-encoding'];
  if (coding === undefined) return response.body.text();
  const decode = typeof coding === 'string' ? decoders[coding] : undefined;
  if (!decode) {
    await response.body.dump();
    throw new TypeError(`the daemon answered in a content coding this client does not read: ${String(coding)}`);
  }
  return (await decode(Buffer.from(await response.body.arrayBuffer()))).toString('utf8');
}

function queryString(query: CallOptions['query']): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined) params.set(name, String(value));
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** Path segments come from users (image names, ids): encode them so a "/" cannot change the route. */
export function segment(value: string): string {
  return encodeURIComponent(value);
}
