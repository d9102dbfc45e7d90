import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Test } from 'tap';
import { Agent, request } from 'undici';
import type { HttpResult, TestDaemon } from './daemon.js';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/**
 * A file of `bytes` of real, non-zero data (no holes, nothing a sparse copy can skip), written with
 * large buffers: much faster than `yes | head -c` or /dev/urandom, and the copy of it still has to
 * move every byte.
 */
export async function makeFilledFile(path: string, bytes: number): Promise<string> {
  const chunk = Buffer.alloc(8 * MiB, 'banger integration test data, not zeros\n');
  const handle = await open(path, 'w');
  try {
    for (let offset = 0; offset < bytes; offset += chunk.length) {
      await handle.write(chunk, 0, Math.min(chunk.length, bytes - offset), offset);
    }
  } finally {
    await handle.close();
  }
  return path;
}

export interface ProblemExpectation {
  status: number;
  code: string;
  /** The distinct errors[].field values: every one of these, and no others. */
  fields?: string[];
  detail?: RegExp | string;
}

/** Asserts a complete RFC 9457 problem: media type, status, code, type, title, detail, hint, field errors. */
export function assertProblem(t: Test, res: HttpResult, expected: ProblemExpectation): void {
  const what = `${expected.status} ${expected.code}`;
  t.equal(res.status, expected.status, `${what}: HTTP status (body: ${res.text.slice(0, 500)})`);
  t.match(String(res.headers['content-type']), /^application\/problem\+json/, `${what}: content-type`);
  const body = res.body as Record<string, unknown>;
  t.equal(body.code, expected.code, `${what}: code`);
  t.equal(body.status, expected.status, `${what}: status in the body`);
  t.equal(body.type, `urn:banger:problem:${expected.code}`, `${what}: type`);
  t.ok(typeof body.title === 'string' && body.title.length > 0, `${what}: title`);
  t.ok(typeof body.detail === 'string' && body.detail.length > 0, `${what}: detail`);
  t.ok(typeof body.hint === 'string' && body.hint.length > 0, `${what}: hint`);
  if (expected.detail !== undefined) t.match(body.detail, expected.detail, `${what}: detail text`);
  if (expected.fields !== undefined) {
    const errors = (body.errors ?? []) as Array<{ field: string; message: string }>;
    t.same([...new Set(errors.map((e) => e.field))].sort(), [...expected.fields].sort(), `${what}: errors[].field`);
    t.ok(errors.every((e) => typeof e.message === 'string' && e.message.length > 0), `${what}: every field error has a message`);
  }
}

/** Entries of `<stateDir>/images`, sorted. */
export function imagesDirEntries(stateDir: string): string[] {
  const dir = join(stateDir, 'images');
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/** Promote staging dirs (`<imageId>.promote-<jobId>`) left under `<stateDir>/images`. */
export function stagingDirs(stateDir: string): string[] {
  return imagesDirEntries(stateDir).filter((entry) => entry.includes('.promote-'));
}

export interface ProcessInfo {
  pid: number;
  argv: string[];
}

function processState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 1).trim().split(/\s+/)[0] ?? null;
  } catch {
    return null;
  }
}

/** True while the process exists and is not a zombie (a zombie writes nothing). */
export function isAlive(pid: number): boolean {
  const state = processState(pid);
  return state !== null && state !== 'Z' && state !== 'X';
}

/** Live processes whose command line mentions `text`, e.g. the `cp` writing into a staging dir. */
export function processesMentioning(text: string, command?: string): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((arg) => arg !== '');
    } catch {
      continue;
    }
    if (argv.length === 0 || !argv.some((arg) => arg.includes(text))) continue;
    if (command !== undefined && argv[0]?.split('/').pop() !== command) continue;
    if (isAlive(pid)) found.push({ pid, argv });
  }
  return found;
}

/** Calls `probe` until it returns something other than undefined. */
export async function pollUntil<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Polls GET /jobs/{id} until `stage` has `status`; fails if the job finishes first. */
export async function waitForStage(daemon: TestDaemon, jobId: string, stage: string, status = 'running', timeoutMs = 60_000): Promise<any> {
  return pollUntil(`job ${jobId} stage ${stage} ${status}`, async () => {
    const { body } = await daemon.http('GET', `/jobs/${jobId}`);
    if (body.stages?.some((s: any) => s.name === stage && s.status === status)) return body;
    if (['succeeded', 'failed', 'cancelled'].includes(body.status)) {
      throw new Error(`job ${jobId} finished (${body.status}) before ${stage} was seen ${status}: ${JSON.stringify(body)}`);
    }
    return undefined;
  }, timeoutMs);
}

/** The `cp` of a promote job, once it is running (its command line names the staging dir). */
export async function waitForCopyProcess(daemon: TestDaemon, imageId: string, jobId: string, timeoutMs = 60_000): Promise<ProcessInfo> {
  const staging = `${imageId}.promote-${jobId}`;
  return pollUntil(`a cp writing into ${staging}`, async () => {
    const [cp] = processesMentioning(staging, 'cp');
    if (cp) return cp;
    const { body } = await daemon.http('GET', `/jobs/${jobId}`);
    if (['succeeded', 'failed', 'cancelled'].includes(body.status)) {
      throw new Error(`job ${jobId} finished (${body.status}) before its cp was seen: the copy is too fast for this test`);
    }
    return undefined;
  }, timeoutMs, 5);
}

export interface SseEvent {
  id: number;
  event: string;
  data: any;
}

/** Parses raw text/event-stream: events (id, event, data as JSON) and comment lines. */
export function parseSse(text: string): { events: SseEvent[]; comments: string[] } {
  const events: SseEvent[] = [];
  const comments: string[] = [];
  for (const block of text.split('\n\n')) {
    if (block.trim() === '') continue;
    const fields: Record<string, string> = {};
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        comments.push(line.slice(1).trim());
        continue;
      }
      const colon = line.indexOf(':');
      if (colon <= 0) throw new Error(`not an SSE line: ${JSON.stringify(line)}`);
      fields[line.slice(0, colon)] = line.slice(colon + 1).replace(/^ /, '');
    }
    if (fields.id === undefined && fields.event === undefined && fields.data === undefined) continue;
    if (fields.id === undefined || fields.event === undefined || fields.data === undefined) {
      throw new Error(`SSE event without id, event or data: ${JSON.stringify(block)}`);
    }
    events.push({ id: Number(fields.id), event: fields.event, data: JSON.parse(fields.data) });
  }
  return { events, comments };
}

export interface EventStream {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Events so far, in arrival order. */
  events: SseEvent[];
  /** Raw text so far. */
  text(): string;
  /** Resolves with the first event (seen or coming) that satisfies `predicate`. */
  next(predicate: (event: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): Promise<void>;
}

/** Opens GET /jobs/{id}/events and reads it as it arrives, over the daemon's unix socket. */
export async function openEventStream(daemon: TestDaemon, jobId: string, headers: Record<string, string> = {}): Promise<EventStream> {
  const agent = new Agent({ connect: { socketPath: daemon.socketPath } });
  const response = await request(`http://banger/jobs/${jobId}/events`, { method: 'GET', dispatcher: agent, headers });
  let raw = '';
  const events: SseEvent[] = [];
  const waiters = new Set<() => void>();
  let done = false;
  const ended = (async () => {
    try {
      for await (const chunk of response.body) {
        raw += chunk.toString();
        const complete = raw.slice(0, raw.lastIndexOf('\n\n') + 2);
        const parsed = parseSse(complete).events;
        events.splice(0, events.length, ...parsed);
        for (const wake of waiters) wake();
      }
    } finally {
      done = true;
      for (const wake of waiters) wake();
    }
  })();
  ended.catch(() => {});
  return {
    status: response.statusCode,
    headers: response.headers,
    events,
    text: () => raw,
    ended,
    async next(predicate, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = events.find(predicate);
        if (hit) return hit;
        if (done) throw new Error(`event stream of job ${jobId} ended without the awaited event; got: ${raw}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out waiting for an event of job ${jobId}; got: ${raw}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(finish, left);
          function finish() {
            clearTimeout(timer);
            waiters.delete(finish);
            resolve();
          }
          waiters.add(finish);
        });
      }
    },
    async close() {
      response.body.destroy();
      await ended.catch(() => {});
      await agent.close().catch(() => {});
    },
  };
}

/** Runs a read-only debugfs request against an ext4 image; debugfs reports most failures on stderr with exit 0. */
export function debugfs(image: string, requestText: string): { stdout: string; stderr: string } {
  const result = spawnSync('debugfs', ['-R', requestText, image], {
    env: { ...process.env, DEBUGFS_PAGER: '__none__', PAGER: '__none__', LC_ALL: 'C' },
    encoding: 'utf8',
  });
  if (result.error) throw result.error;
  return { stdout: result.stdout, stderr: result.stderr };
}

/** The sha256 hex of a string, computed here independently of the server. */
export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** "SHA256:..." as ssh-keygen prints it for a public key file. */
export function sshFingerprint(publicKeyPath: string): string {
  const out = execFileSync('ssh-keygen', ['-l', '-f', publicKeyPath], { encoding: 'utf8' });
  const fingerprint = out.trim().split(/\s+/)[1];
  if (!fingerprint?.startsWith('SHA256:')) throw new Error(`unexpected ssh-keygen output: ${out}`);
  return fingerprint;
}
