// Shared by the VM integration tests (api-vms*.test.ts, cli-vms.test.ts): a busybox image built
// through the daemon, VM creates that fail with the console tail, and a guard that no guest outlives
// its test file.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { request } from 'undici';
import { isAlive, pollUntil, processesMentioning } from './api.js';
import { startDaemon, waitForJob, type TestDaemon } from './daemon.js';
import { testCacheRoot } from './guest.js';

export const vmJobTimeoutMs = 240_000;

/** Environment for a test daemon: shared kernel cache, a quick monitor, short waits for ports that stay shut. */
export function vmDaemonEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    BANGER_KERNEL_CACHE: join(testCacheRoot, 'kernels'),
    BANGER_VM_MONITOR_INTERVAL_MS: '300',
    BANGER_VM_PORT_TIMEOUT_SECONDS: '30',
    BANGER_VM_STOP_GRACE_SECONDS: '1',
    ...extra,
  };
}

/** Kills every process that names the state dir (guests outlive daemons by design), at teardown. */
export function reapGuests(t: { teardown(fn: () => unknown): void }, stateDir: string): void {
  t.teardown(async () => {
    for (const guest of processesMentioning(`${stateDir}/`)) {
      try {
        process.kill(guest.pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  });
}

export async function startVmDaemon(t: Test, options: { stateDir?: string; env?: Record<string, string> } = {}): Promise<TestDaemon> {
  const daemon = await startDaemon(t, { stateDir: options.stateDir, env: vmDaemonEnv(options.env) });
  if (!options.stateDir) reapGuests(t, daemon.stateDir);
  return daemon;
}

export async function buildBusybox(daemon: TestDaemon, name: string): Promise<any> {
  const res = await daemon.http('POST', '/images/builds', { name, recipe: 'busybox' });
  if (res.status !== 202) throw new Error(`POST /images/builds: ${res.status} ${res.text}`);
  const job = await waitForJob(daemon, res.body.id, 10 * 60_000);
  if (job.status !== 'succeeded') throw new Error(`busybox build failed: ${JSON.stringify(job.error)}`);
  return (await daemon.http('GET', `/images/${name}`)).body;
}

/** POST /vms: the 202 answer. */
export async function postVm(daemon: TestDaemon, body: Record<string, unknown>): Promise<any> {
  const res = await daemon.http('POST', '/vms', body);
  if (res.status !== 202) throw new Error(`POST /vms ${JSON.stringify(body)}: ${res.status} ${res.text}`);
  return res;
}

/** Creates a VM and waits for it to run; a failure carries the job's problem (with its console lines). */
export async function createRunningVm(daemon: TestDaemon, body: Record<string, unknown>): Promise<{ job: any; vm: any }> {
  const accepted = await postVm(daemon, body);
  const job = await waitForJob(daemon, accepted.body.id, vmJobTimeoutMs);
  if (job.status !== 'succeeded') throw new Error(`create of ${JSON.stringify(body)} ${job.status}:\n${job.error?.detail ?? JSON.stringify(job)}`);
  return { job, vm: (await daemon.http('GET', `/vms/${job.target.id}`)).body };
}

/** Runs a VM job (stop, start, delete…) to its end; throws unless it succeeded. */
export async function runVmJob(daemon: TestDaemon, method: string, path: string, body?: unknown): Promise<any> {
  const res = await daemon.http(method, path, body);
  if (res.status !== 202) throw new Error(`${method} ${path}: ${res.status} ${res.text}`);
  const job = await waitForJob(daemon, res.body.id, vmJobTimeoutMs);
  if (job.status !== 'succeeded') throw new Error(`${method} ${path}: job ${job.status}: ${job.error?.detail ?? JSON.stringify(job)}`);
  return job;
}

/** The HTTP status of the busybox probe service through a published port, or the error text. */
export async function probeHttp(port: number, timeoutMs = 5000): Promise<number | string> {
  try {
    const response = await request(`http://127.0.0.1:${port}/`, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    await response.body.text();
    return response.statusCode;
  } catch (error) {
    return error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error);
  }
}

export function hostPortOf(vm: any, guestPort: number): number {
  const port = vm.ports.find((p: any) => p.guestPort === guestPort);
  if (!port) throw new Error(`VM ${vm.name} publishes no guest port ${guestPort}: ${JSON.stringify(vm.ports)}`);
  return port.hostPort;
}

/**
 * The busybox guest's state page (server/guest/files/busybox-state-cgi) through its published
 * port 8080, as key=value pairs; with a note, POSTs it first (kept in guest memory and on /root).
 */
export async function guestState(vm: any, note?: string): Promise<Record<string, string>> {
  const url = `http://127.0.0.1:${hostPortOf(vm, 8080)}/cgi-bin/state`;
  const response = await request(url, { method: note === undefined ? 'GET' : 'POST', body: note, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`GET ${url}: ${response.statusCode} ${text}`);
  return Object.fromEntries(text.split('\n').filter((line) => line.includes('=')).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
}

/** Guests (and anything else) still running from a VM dir. */
export function processesOfVm(stateDir: string, vmId: string): number[] {
  return processesMentioning(join(stateDir, 'vms', vmId) + '/').map((found) => found.pid);
}

export async function waitGone(pid: number, timeoutMs = 15_000): Promise<void> {
  await pollUntil(`process ${pid} to exit`, () => (isAlive(pid) ? undefined : true), timeoutMs, 50);
}

export function vmsDirEntries(stateDir: string): string[] {
  const dir = join(stateDir, 'vms');
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/** The last lines of a VM's console, for assertion messages. */
export function consoleTail(vm: any, lines = 30): string {
  const path = vm?.consoleLogPath;
  if (!path || !existsSync(path)) return '(no console log)';
  return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
}
