import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';

export const repoRoot = join(import.meta.dirname, '..', '..');
export const bangerBin = join(repoRoot, 'dist', 'bin', 'banger.js');

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  text: string;
}

export interface TestDaemon {
  stateDir: string;
  socketPath: string;
  child: ChildProcess;
  /** Everything the daemon printed so far (pino JSON lines). */
  output(): string;
  http(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<HttpResult>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>;
  /** kill -9 and wait for exit. */
  crash(): Promise<void>;
}

interface Teardownable {
  teardown(fn: () => unknown): void;
}

export async function makeTempDir(t: Teardownable, prefix = 'banger-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Starts the real daemon (the built bin) on a temp state dir and waits for its socket.
 * Pass an existing stateDir to restart over the same state.
 */
export async function startDaemon(
  t: Teardownable,
  options: { stateDir?: string; args?: string[]; env?: Record<string, string> } = {},
): Promise<TestDaemon> {
  const stateDir = options.stateDir ?? (await makeTempDir(t, 'banger-state-'));
  const socketPath = join(stateDir, 'banger.sock');
  const child = spawn(process.execPath, [bangerBin, 'serve', '--state-dir', stateDir, ...(options.args ?? [])], {
    env: { ...process.env, BANGER_LOG_LEVEL: 'info', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const agent = new Agent({ connect: { socketPath } });

  const deadline = Date.now() + 30_000;
  while (!(await socketAnswers(socketPath))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`daemon did not start listening on ${socketPath} within 30s; its output:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  const daemon: TestDaemon = {
    stateDir,
    socketPath,
    child,
    output: () => output,
    async http(method, path, body, headers = {}) {
      const hasBody = body !== undefined;
      const response = await request(`http://banger${path}`, {
        method: method as 'GET',
        dispatcher: agent,
        headers: { ...(hasBody ? { 'content-type': 'application/json' } : {}), ...headers },
        body: hasBody ? (typeof body === 'string' ? body : JSON.stringify(body)) : undefined,
      });
      const text = await response.body.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // Not JSON (an event stream, say): callers read `text`.
      }
      return { status: response.statusCode, headers: response.headers, body: parsed, text };
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
    async crash() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
  t.teardown(async () => {
    await agent.close().catch(() => {});
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  return daemon;
}

async function socketAnswers(path: string): Promise<boolean> {
  if (!existsSync(path)) return false;
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Polls a job until it finishes, via the long-poll endpoint. */
export async function waitForJob(daemon: TestDaemon, jobId: string, timeoutMs = 120_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await daemon.http('GET', `/jobs/${jobId}?wait=10`);
    if (['succeeded', 'failed', 'cancelled'].includes(body.status)) return body;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${body.status} after ${timeoutMs} ms: ${JSON.stringify(body)}`);
  }
}

/** The URL from the daemon's "listening on TCP" log line (useful with `--listen 127.0.0.1:0`). */
export async function tcpUrlOf(daemon: TestDaemon, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const line of daemon.output().split('\n')) {
      if (!line.startsWith('{')) continue;
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.msg === 'banger listening on TCP (bearer token required)' && entry.url) return entry.url;
    }
    if (Date.now() > deadline) throw new Error(`no TCP listening line in the daemon output:\n${daemon.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Runs `banger serve` to its exit (a refusal to start, say) and returns the exit code and
 * everything it printed; the caller's token settings are not inherited, only those in env.
 */
export async function serveUntilExit(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  const inherited = { ...process.env };
  for (const name of ['BANGER_LISTEN', 'BANGER_TOKEN', 'BANGER_TOKEN_FILE']) delete inherited[name];
  const child = spawn(process.execPath, [bangerBin, 'serve', ...args], { env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  return { code, output };
}
