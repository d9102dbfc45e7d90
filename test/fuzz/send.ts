// Sends fuzz requests to a daemon over its unix socket and judges each answer: no 5xx, headers
// within the time limit, and every 4xx a well-formed problem.
import { Agent, request } from 'undici';
import type { FuzzRequest } from './openapi-requests.js';

export interface FuzzVerdict {
  request: FuzzRequest;
  status: number | 'hang' | 'error';
  problem?: string;
  ms: number;
}

export interface FuzzSummary {
  counts: Map<string, number>;
  failures: FuzzVerdict[];
  slowestMs: number;
}

const problemFields = ['type', 'title', 'status', 'code', 'detail'] as const;

/** What is wrong with a 4xx answer, or undefined when it is a valid problem. */
function problemFault(status: number, contentType: string, text: string): string | undefined {
  if (!/^application\/problem\+json/.test(contentType)) return `content-type ${contentType}`;
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return 'body is not JSON';
  }
  for (const field of problemFields) if (body[field] === undefined) return `no ${field}`;
  if (body.status !== status) return `status ${String(body.status)} in the body`;
  if (typeof body.code !== 'string' || body.type !== `urn:banger:problem:${body.code}`) return `type ${String(body.type)} does not match code ${String(body.code)}`;
  return undefined;
}

export async function sendAll(socketPath: string, requests: FuzzRequest[], options: { headersTimeoutMs: number; bodyMs: number }): Promise<FuzzSummary> {
  const agent = new Agent({ connect: { socketPath }, headersTimeout: options.headersTimeoutMs, bodyTimeout: options.bodyMs });
  const counts = new Map<string, number>();
  const failures: FuzzVerdict[] = [];
  let slowestMs = 0;
  try {
    for (const fuzz of requests) {
      const started = performance.now();
      const abort = new AbortController();
      let verdict: FuzzVerdict;
      try {
        const res = await request(`http://banger${fuzz.path}`, {
          dispatcher: agent,
          method: fuzz.method as 'GET',
          headers: fuzz.headers,
          body: fuzz.body,
          signal: abort.signal,
        });
        const ms = performance.now() - started;
        // Streams (exec output, job events, files) are read for a moment, then let go: a hang-up the daemon must survive.
        const timer = setTimeout(() => abort.abort(), options.bodyMs);
        const text = await res.body.text().catch(() => '');
        clearTimeout(timer);
        const contentType = String(res.headers['content-type'] ?? '');
        const fault = res.statusCode >= 500 ? 'server error' : res.statusCode >= 400 ? problemFault(res.statusCode, contentType, text) : undefined;
        verdict = { request: fuzz, status: res.statusCode, ms, ...(fault ? { problem: `${fault}: ${text.slice(0, 300)}` } : {}) };
      } catch (error) {
        const code = (error as { code?: string }).code;
        verdict = { request: fuzz, status: code === 'UND_ERR_HEADERS_TIMEOUT' ? 'hang' : 'error', ms: performance.now() - started, problem: String(error) };
      }
      slowestMs = Math.max(slowestMs, verdict.ms);
      const key = `${verdict.status}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      if (verdict.problem !== undefined || typeof verdict.status !== 'number') failures.push(verdict);
    }
  } finally {
    await agent.close();
  }
  return { counts, failures, slowestMs };
}
