// The real app in this process, wired by openDaemon over a real SQLite file in a temp state dir,
// driven with Fastify's inject: for requests the API answers before any host tool or hypervisor runs.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import type { Test } from 'tap';
import { buildApp } from '../../server/app.js';
import { resolveConfig } from '../../server/config.js';
import { openDaemon, stopBackgroundWork, type Daemon } from '../../server/daemon.js';
import { acquireStateLock } from '../../server/host/state-lock.js';
import { assertProblem, imagesDirEntries, type ProblemExpectation } from './api.js';
import type { HttpResult } from './daemon.js';
import { vmsDirEntries } from './vms.js';

export interface TestApp {
  stateDir: string;
  /** The bearer token every request needs, when built as the TCP listener's app. */
  token: string | null;
  app: FastifyInstance;
  daemon: Daemon;
  /** Same shape as TestDaemon.http, so tests read the same in-process and over the socket. */
  inject(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<HttpResult>;
  /** From now on every request is answered as during a graceful shutdown. */
  drain(): void;
}

export interface TestAppOptions {
  /** Builds the app the TCP listener gets: every request needs this bearer token. */
  token?: string;
  /** The TCP listener's rate limit, requests a minute from one address. */
  rateLimitPerMinute?: number;
  /** BANGER_* settings, as the daemon would read them from its environment; undefined unsets one. */
  env?: Record<string, string | undefined>;
}

export async function startApp(t: Test, options: TestAppOptions = {}): Promise<TestApp> {
  const stateDir = await mkdtemp(join(tmpdir(), 'banger-app-'));
  const env = { ...process.env, ...options.env };
  const config = resolveConfig({ stateDir, ...(options.token ? { token: options.token } : {}) }, env);
  const logger = pino({ level: 'silent' });
  const lock = await acquireStateLock(config.stateDir);
  // openDaemon reads the VM settings from process.env itself; the overrides hold only while it opens.
  const saved = Object.fromEntries(Object.keys(options.env ?? {}).map((name) => [name, process.env[name]]));
  setEnv(options.env ?? {});
  let daemon: Daemon;
  try {
    daemon = await openDaemon(config, logger);
  } finally {
    setEnv(saved);
  }
  let draining = false;
  const app = await buildApp({
    services: daemon.services,
    logger,
    bodyLimit: config.bodyLimit,
    isDraining: () => draining,
    ...(options.token ? { token: config.token } : {}),
    ...(options.rateLimitPerMinute ? { rateLimit: { perMinute: options.rateLimitPerMinute } } : {}),
  });
  await app.ready();

  // The order of main.ts's shutdown, then the state dir goes.
  t.teardown(async () => {
    await stopBackgroundWork(daemon);
    await app.close();
    daemon.database.close();
    lock.release();
    await rm(stateDir, { recursive: true, force: true });
  });

  return {
    stateDir,
    token: options.token ?? null,
    app,
    daemon,
    async inject(method, path, body, headers = {}) {
      const hasBody = body !== undefined;
      const response = await app.inject({
        method: method as 'GET',
        url: path,
        headers: { ...(hasBody ? { 'content-type': 'application/json' } : {}), ...headers },
        ...(hasBody ? { payload: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body) } : {}),
      });
      let parsed: unknown = response.body;
      try {
        parsed = JSON.parse(response.body);
      } catch {
        // Not JSON (console text, an event stream): callers read `text`.
      }
      // inject reports content-length as a number; over the socket every header is text.
      const textHeaders = Object.fromEntries(Object.entries(response.headers).map(([name, value]) => [name, typeof value === 'number' ? String(value) : value]));
      return { status: response.statusCode, headers: textHeaders, body: parsed, text: response.body };
    },
    drain() {
      draining = true;
    },
  };
}

function setEnv(values: Record<string, string | undefined>): void {
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
}

/**
 * A VM row as a create leaves it, with nothing booted: conflicts over names, images and states need
 * only the row. Plain SQL with the columns every schema version has, the rest left to defaults.
 */
export function insertVmRow(app: TestApp, row: { id: string; name: string; imageId: string; state: string }): void {
  const stamp = new Date().toISOString();
  app.daemon.database.sqlite
    .prepare('INSERT INTO vms (id, name, image_id, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)')
    .run(row.id, row.name, row.imageId, row.state, stamp, stamp);
}

export interface ProblemCase extends ProblemExpectation {
  name: string;
  method: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Checks beyond the problem itself, e.g. the message of each field error. */
  check?: (t: Test, res: HttpResult) => void;
}

/** The commonest case: a 422 validation-failed that names one field, titled by its request. */
export function invalidField(method: string, path: string, field: string): ProblemCase {
  return { name: `${method} ${path}`, method, path, status: 422, code: 'validation-failed', fields: [field] };
}

/** What a refused request must leave as it was: every listing and the artifact dirs. */
export async function stateOf(app: TestApp): Promise<Record<string, unknown>> {
  const auth: Record<string, string> = app.token ? { authorization: `Bearer ${app.token}` } : {};
  const list = async (path: string) => {
    const res = await app.inject('GET', `${path}?limit=500`, undefined, auth);
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${res.text}`);
    return res.body.items;
  };
  return {
    images: await list('/images'),
    vms: await list('/vms'),
    jobs: await list('/jobs'),
    imagesDir: imagesDirEntries(app.stateDir),
    vmsDir: vmsDirEntries(app.stateDir),
  };
}

/** One subtest per case: each answer is a complete problem, and together they change nothing. */
export async function checkProblemCases(t: Test, app: TestApp, cases: ProblemCase[]): Promise<void> {
  const before = await stateOf(app);
  for (const { name, method, path, body, headers, check, ...expected } of cases) {
    await t.test(name, async (t) => {
      const res = await app.inject(method, path, body, headers);
      assertProblem(t, res, expected);
      check?.(t, res);
    });
  }
  t.same(await stateOf(app), before, 'no image, VM or job was added, changed or removed; no files under images/ or vms/');
}

/** A check that errors[i].message matches expected[i] and that every field error has a hint. */
export function fieldMessages(...expected: RegExp[]): (t: Test, res: HttpResult) => void {
  return (t, res) => {
    const errors = (res.body as { errors?: Array<{ message?: string; hint?: string }> }).errors ?? [];
    expected.forEach((message, i) => t.match(errors[i]?.message, message, `errors[${i}].message`));
    t.ok(errors.every((e) => typeof e.hint === 'string' && e.hint.length > 0), 'each field error has a hint');
  };
}

/** POST /images {name: 'bad', ...body}, refused by its preflight with these fields. */
export function registrationRefused(name: string, body: Record<string, unknown>, fields: string[], check: (t: Test, res: HttpResult) => void): ProblemCase {
  return { name, method: 'POST', path: '/images', body: { name: 'bad', ...body }, status: 422, code: 'preflight-failed', fields, detail: /^Cannot register image bad: /, check };
}
