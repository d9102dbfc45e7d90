import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import autocannon from 'autocannon';
import { CLOCK_TICKS_PER_SECOND, readProcStat } from '../server/host/proc.js';

/** Where and how hard the HTTP benches load a daemon: keep-alive connections on its unix socket. */
export interface LoadTarget {
  socketPath: string;
  connections: number;
  /** The daemon's own process, whose CPU time is read from /proc. */
  pid: number;
}

export interface Measured {
  reqPerSec: number;
  p50: number;
  p99: number;
  /** The daemon's CPU time (user + system) per answered request, in µs. */
  cpuUs: number;
  /** Of an answer, headers included. */
  bytes: number;
  /** Answers with another status, errors and timeouts. */
  unexpected: number;
}

interface Run {
  result: autocannon.Result;
  bytes: number;
  unexpected: number;
}

const percentile = (sorted: Float64Array, p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
const cpuTicksOf = (pid: number) => readProcStat(pid)?.cpuTicks ?? Number.NaN;

/**
 * autocannon for `seconds` against `paths` (each connection asks them in turn); each answer's
 * latency goes to `latencies`.
 */
export async function cannon(target: LoadTarget, paths: string[], expectedStatus: number, seconds: number, latencies?: number[], headers?: Record<string, string>): Promise<Run> {
  let unexpected = 0;
  let bytes = 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const requests = paths.length > 1 ? paths.map((path) => ({ method: 'GET' as const, path })) : undefined;
    const instance = autocannon(
      { url: `http://localhost${paths[0] ?? '/'}`, socketPath: target.socketPath, connections: target.connections, duration: seconds, requests, headers },
      (error: unknown, done) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(done)),
    );
    instance.on('response', (_client, statusCode, resBytes, responseTime) => {
      if (statusCode !== expectedStatus) unexpected++;
      bytes = resBytes;
      latencies?.push(responseTime);
    });
  });
  return { result, bytes, unexpected: unexpected + result.errors + result.timeouts };
}

/**
 * One endpoint: a warm-up second, then `seconds` measured. Latencies come from autocannon's
 * per-response event (its own histogram keeps whole milliseconds only); the daemon's CPU time from
 * /proc, which other processes on the host do not change the way they change req/s.
 */
export async function measure(target: LoadTarget, paths: string[], expectedStatus: number, seconds: number, headers?: Record<string, string>): Promise<Measured> {
  await cannon(target, paths, expectedStatus, 1, undefined, headers);
  const latencies: number[] = [];
  const ticksBefore = cpuTicksOf(target.pid);
  const { result, bytes, unexpected } = await cannon(target, paths, expectedStatus, seconds, latencies, headers);
  const cpuUs = ((cpuTicksOf(target.pid) - ticksBefore) / CLOCK_TICKS_PER_SECOND / result.requests.total) * 1e6;
  const sorted = Float64Array.from(latencies).sort();
  return { reqPerSec: result.requests.total / (result.duration || seconds), p50: percentile(sorted, 50), p99: percentile(sorted, 99), cpuUs, bytes, unexpected };
}

/** What a bench measures: `paths` asked in turn, each answer expected with `status`. */
export interface Endpoint {
  shown: string;
  paths: string[];
  status: number;
  /** Sent with every request (If-None-Match, say). */
  headers?: Record<string, string>;
}

export type MeasuredEndpoint = Endpoint & Measured & { ratio: number };

/**
 * Every endpoint for a second first (the code they share is compiled by then, and the first one
 * measured does not pay for it), then each measured; ratios are to the first, the baseline.
 */
export async function measureEndpoints(target: LoadTarget, endpoints: Endpoint[], seconds: number): Promise<MeasuredEndpoint[]> {
  for (const { paths, status, headers } of endpoints) await cannon(target, paths, status, 1, undefined, headers);
  const measured: MeasuredEndpoint[] = [];
  for (const endpoint of endpoints) {
    const result = await measure(target, endpoint.paths, endpoint.status, seconds, endpoint.headers);
    measured.push({ ...endpoint, ...result, ratio: result.reqPerSec / (measured[0]?.reqPerSec ?? result.reqPerSec) });
  }
  return measured;
}

/**
 * measureEndpoints in a node process of its own (http-load-child.ts), for a bench whose process did
 * the setup: autocannon's latencies include its own event loop's delays, and in a process that had
 * made 1,000 VMs through the client the p99 of a 60 KiB answer came out 8-10 ms where a fresh
 * process measured 1.6-2.4 ms against the same daemon.
 */
export async function measureEndpointsApart(target: LoadTarget, endpoints: Endpoint[], seconds: number): Promise<MeasuredEndpoint[]> {
  const child = join(import.meta.dirname, 'http-load-child.ts');
  // The same node and loader (tsx) as this process.
  const { stdout } = await promisify(execFile)(process.execPath, [...process.execArgv, child, JSON.stringify({ target, endpoints, seconds })], {
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout) as MeasuredEndpoint[];
}

const ms = (value: number) => value.toFixed(2);

/** The measured cells of a table row, in the order of measuredHeader. */
export const measuredCells = (m: Measured & { ratio: number }) =>
  `${Math.round(m.reqPerSec)} | ${ms(m.p50)} | ${ms(m.p99)} | ${m.ratio.toFixed(3)} | ${Math.round(m.cpuUs)} | ${(m.bytes / 1024).toFixed(1)}`;

export const measuredHeader = 'req/s | p50 ms | p99 ms | ×healthz | daemon CPU µs/req | KiB/answer';

/** A markdown table's header and rule line for these leading columns and the measured ones. */
export function tableHeader(leading: string[]): string {
  const header = `| ${[...leading, measuredHeader].join(' | ')} |`;
  return `${header}\n${header.replace(/[^|]+/g, ' --- ')}`;
}

/**
 * `count` requests for the first page of `path` that no kept answer serves: the daemon keeps a
 * list's answers by their query until its data changes (server/http/kept-answers.ts, at most 64
 * each), and each of these carries its own cursor from before the first item (`before(i)`), so
 * asked in turn each is the same first page, made afresh from the rows. What a page costs when
 * something changed since the last time it was asked.
 */
export function freshPaths(path: string, count: number, before: (i: number) => unknown): string[] {
  const separator = path.includes('?') ? '&' : '?';
  return Array.from({ length: count }, (_, i) => `${path}${separator}cursor=${Buffer.from(JSON.stringify(before(i))).toString('base64url')}`);
}

/** Cursors before every name the benches give (bench-…): `a0`, `a1`, … */
export const beforeNames = (i: number) => `a${i}`;
