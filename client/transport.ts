import { Agent, request, type Dispatcher } from 'undici';
import { explainConnectionError, problemFromResponse, ProblemError } from './errors.js';

export interface Endpoint {
  socketPath?: string;
  baseUrl?: string;
  token?: string;
}

export interface CallOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  headers?: Record<string, string | undefined>;
  signal?: AbortSignal;
}

export interface JsonResponse<T> {
  status: number;
  body: T;
}

type Method = 'GET' | 'POST' | 'DELETE';

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
    if (endpoint.socketPath !== undefined) {
      this.agent = new Agent({ connect: { socketPath: endpoint.socketPath } });
      // The host is never resolved: the socket is the address, the name only fills the Host header.
      this.origin = 'http://banger';
    } else {
      const url = new URL(endpoint.baseUrl as string);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new TypeError(`baseUrl must be an http(s) URL, got ${endpoint.baseUrl}`);
      }
      this.agent = new Agent();
      this.origin = url.href.replace(/\/+$/, '');
    }
  }

  async json<T>(method: Method, path: string, options: CallOptions = {}): Promise<JsonResponse<T>> {
    const response = await this.send(method, path, options, 'application/json');
    const text = await response.body.text();
    return { status: response.statusCode, body: (text === '' ? undefined : JSON.parse(text)) as T };
  }

  /** The raw body of a 2xx answer, for streams the caller reads itself. */
  async stream(path: string, options: CallOptions = {}, method: Method = 'GET', accept = 'text/event-stream'): Promise<Dispatcher.ResponseData['body']> {
    const response = await this.send(method, path, options, accept);
    return response.body;
  }

  close(): Promise<void> {
    return this.agent.close();
  }

  private async send(method: Method, path: string, options: CallOptions, accept: string): Promise<Dispatcher.ResponseData> {
    const hasBody = options.body !== undefined;
    const headers: Record<string, string> = { accept: `${accept}, application/problem+json` };
    if (hasBody) headers['content-type'] = 'application/json';
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
        body: hasBody ? JSON.stringify(options.body) : undefined,
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
