/**
 * Issue #11's soak: --minutes of mixed creates, execs, stop/start, deletes and bad requests
 * against one daemon (the dist/ build) with at most --vms VMs at a time, and what the daemon
 * holds at the start and the end: open fds, RSS, SQLite size and files or processes left over.
 *
 *   npm run build && npx tsx bench/soak.ts [--minutes 30] [--vms 4] [--memory 256] [--seed 1] [--parallel 2] [--job-retention-s 300]
 *
 * --parallel operations run at once (each picked at random, --seed, among those the VMs' states
 * allow); a VM takes part in one operation at a time, and a create counts against --vms from its
 * POST, so there are never more guests than --vms. The start figures are read after the image
 * build with no VM; the end figures after every VM of the run is deleted and the daemon had
 * --settle-s to finish. Targets (the issue's): fds +0, RSS growth ≤ 10 %, nothing left over.
 * The exit status is 1 when one is missed or any operation that should succeed failed.
 *
 * The state dir, the daemon and the guests are removed at the end, also on Ctrl-C.
 */
import { request } from 'node:http';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ProblemError, type BangerClient, type Job } from '../client/index.js';
import { benchScratch } from './bench-scratch.js';
import { countFds, fdKindChanges, probeDaemon, sqliteBytes, type DaemonProbe } from './daemon-probe.js';
import { readRssBytes } from '../server/host/proc-memory.js';

const { values: flags } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    vms: { type: 'string', default: '4' },
    memory: { type: 'string', default: '256' },
    seed: { type: 'string', default: '1' },
    parallel: { type: 'string', default: '2' },
    'settle-s': { type: 'string', default: '5' },
    'job-retention-s': { type: 'string', default: '300' },
  },
});
const minutes = Number(flags.minutes);
const maxVms = Number(flags.vms);
const memoryMiB = Number(flags.memory);
const seed = Number(flags.seed);
const parallel = Number(flags.parallel);
const settleMs = Number(flags['settle-s']) * 1000;
// Short, so that a run of minutes shows the database level off as the daemon expires its jobs.
const jobRetention = flags['job-retention-s'];
const MiB = 1024 * 1024;
const jobTimeoutMs = 600_000;
const imageName = 'soak-busybox';

const scratch = await benchScratch('banger-bench-soak-');

// A seeded generator (xorshift32), so that --seed replays the same choices given the same timings.
let randomState = (seed >>> 0) || 0x9e3779b9;
function random(): number {
  randomState ^= randomState << 13;
  randomState >>>= 0;
  randomState ^= randomState >>> 17;
  randomState ^= randomState << 5;
  randomState >>>= 0;
  return randomState / 0x1_0000_0000;
}
const pickOne = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

type OpKind = 'create' | 'exec echo' | 'exec 100 kB' | 'stop+start' | 'stop+delete' | 'delete' | 'bad: unknown VM' | 'bad: invalid body' | 'bad: content type' | 'bad: long param' | 'final delete' | 'repair';
interface OpTally {
  count: number;
  failures: number;
  totalMs: number;
}
const tallies = new Map<OpKind, OpTally>();
const failures: string[] = [];

/** A VM of this run; busy while an operation (its create included) has it. */
interface SoakVm {
  name: string;
  busy: boolean;
}
const vms = new Map<string, SoakVm>();
let created = 0;

async function timed(kind: OpKind, what: string, operation: () => Promise<void>): Promise<boolean> {
  const tally = tallies.get(kind) ?? { count: 0, failures: 0, totalMs: 0 };
  tallies.set(kind, tally);
  const started = performance.now();
  try {
    await operation();
    return true;
  } catch (error) {
    // What an interrupt or a dead daemon cut short says nothing about the daemon under test.
    if (stopped()) return false;
    tally.failures++;
    const message = `${elapsed()} ${kind} ${what}: ${error instanceof Error ? error.message : String(error)}`;
    failures.push(message);
    console.log(`  ! ${message}`);
    return false;
  } finally {
    tally.count++;
    tally.totalMs += performance.now() - started;
  }
}

async function runJob(client: BangerClient, started: Promise<Job>, what: string): Promise<Job> {
  const job = await client.waitJob((await started).id, { timeoutMs: jobTimeoutMs });
  if (job.status !== 'succeeded') throw new Error(`${what}: job ${job.id} ${job.status}: ${job.error?.detail ?? ''}`);
  return job;
}

/** Runs command to its exit; its stdout, or an error for a non-zero exit or a stream without an exit event. */
async function execStdout(client: BangerClient, vm: string, command: string[]): Promise<string> {
  let stdout = '';
  for await (const event of client.exec(vm, { command, timeoutSeconds: 60 })) {
    if (event.type === 'output' && event.stream === 'stdout') stdout += Buffer.from(event.data, event.encoding === 'base64' ? 'base64' : 'utf8').toString();
    if (event.type === 'exit') {
      if (event.exitCode !== 0) throw new Error(`${command.join(' ')} exited ${event.exitCode ?? `by ${event.signal}`}${event.timedOut ? ' (timed out)' : ''}`);
      return stdout;
    }
  }
  throw new Error(`${command.join(' ')}: the stream ended without an exit event`);
}

/** A raw request on the daemon's socket, for what the client would never send. */
function rawRequest(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; contentType: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: join(scratch.stateDir, 'banger.sock'), method, path, headers, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'] ?? '', body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 30 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

const badRequests: Array<{ kind: OpKind; method: string; path: string; headers?: Record<string, string>; body?: string; status: number }> = [
  { kind: 'bad: unknown VM', method: 'GET', path: '/vms/soak-nobody', status: 404 },
  { kind: 'bad: invalid body', method: 'POST', path: '/vms', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: imageName, memoryMiB: 'lots' }), status: 422 },
  { kind: 'bad: content type', method: 'POST', path: '/vms', headers: { 'content-type': 'text/plain' }, body: `image=${imageName}`, status: 415 },
  { kind: 'bad: long param', method: 'GET', path: `/vms/${'x'.repeat(300)}`, status: 422 },
];

async function badRequest(): Promise<void> {
  const bad = pickOne(badRequests);
  await timed(bad.kind, `${bad.method} ${bad.path.slice(0, 40)}`, async () => {
    const answer = await rawRequest(bad.method, bad.path, bad.headers, bad.body);
    if (answer.status !== bad.status || !answer.contentType.startsWith('application/problem+json')) {
      throw new Error(`expected ${bad.status} application/problem+json, got ${answer.status} ${answer.contentType}: ${answer.body.slice(0, 200)}`);
    }
    const problem = JSON.parse(answer.body) as { status?: unknown };
    if (problem.status !== bad.status) throw new Error(`the problem's status is ${String(problem.status)}`);
  });
}

/**
 * After a failed operation the VM's state is unknown: keep it if it runs, else delete it, so that
 * the run goes on with VMs in a known state (and a VM that cannot be deleted shows at the end).
 */
async function repair(client: BangerClient, vm: SoakVm): Promise<void> {
  await timed('repair', vm.name, async () => {
    let state: string;
    try {
      state = (await client.getVm(vm.name)).state;
    } catch (error) {
      if (error instanceof ProblemError && error.status === 404) {
        vms.delete(vm.name);
        return;
      }
      throw error;
    }
    if (state === 'running') return;
    await runJob(client, client.deleteVm(vm.name), `delete ${state} VM`);
    vms.delete(vm.name);
  });
  if (vms.has(vm.name)) vm.busy = false;
}

async function create(client: BangerClient): Promise<void> {
  const vm: SoakVm = { name: `soak-${String(++created).padStart(4, '0')}`, busy: true };
  vms.set(vm.name, vm);
  const ok = await timed('create', vm.name, async () => void (await runJob(client, client.createVm({ name: vm.name, image: imageName, memoryMiB }), 'create')));
  if (ok) vm.busy = false;
  else await repair(client, vm);
}

async function onVm(client: BangerClient, vm: SoakVm): Promise<void> {
  vm.busy = true;
  const roll = random();
  let ok: boolean;
  let gone = false;
  if (roll < 0.3) {
    ok = await timed('exec echo', vm.name, async () => {
      const out = await execStdout(client, vm.name, ['echo', 'hi']);
      if (out !== 'hi\n') throw new Error(`echo hi printed ${JSON.stringify(out)}`);
    });
  } else if (roll < 0.6) {
    ok = await timed('exec 100 kB', vm.name, async () => {
      const out = await execStdout(client, vm.name, ['sh', '-c', 'head -c 100000 /dev/zero | wc -c']);
      if (out.trim() !== '100000') throw new Error(`wc -c printed ${JSON.stringify(out)}`);
    });
  } else if (roll < 0.75) {
    ok = await timed('stop+start', vm.name, async () => {
      await runJob(client, client.stopVm(vm.name), 'stop');
      await runJob(client, client.startVm(vm.name), 'start');
    });
  } else if (roll < 0.85) {
    ok = await timed('stop+delete', vm.name, async () => {
      await runJob(client, client.stopVm(vm.name), 'stop');
      await runJob(client, client.deleteVm(vm.name), 'delete');
    });
    gone = ok;
  } else {
    ok = await timed('delete', vm.name, async () => void (await runJob(client, client.deleteVm(vm.name), 'delete')));
    gone = ok;
  }
  if (gone) vms.delete(vm.name);
  else if (ok) vm.busy = false;
  else await repair(client, vm);
}

/** One operation: a create while there is room (always when well short of --vms), else one on an idle VM or a bad request. */
async function step(client: BangerClient): Promise<void> {
  const idle = [...vms.values()].filter((vm) => !vm.busy);
  const room = maxVms - vms.size;
  const createChance = room <= 0 ? 0 : room > 1 ? 0.8 : 0.4;
  if (random() < createChance) return create(client);
  if (idle.length > 0 && random() < 0.8) return onVm(client, pickOne(idle));
  return badRequest();
}

let daemonPid = 0;
const stopped = (): boolean => scratch.interrupted.aborted || (daemonPid !== 0 && readRssBytes(daemonPid) === 0);

let startedAt = performance.now();
// The start is read just after the image build, whose garbage the daemon frees in the first
// minutes: growth from the lowest sample shows a trend that the start figure can hide.
let lowestSampledRss = Number.POSITIVE_INFINITY;
const elapsed = (): string => {
  const s = Math.round((performance.now() - startedAt) / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};
const operations = (): number => [...tallies.values()].reduce((sum, tally) => sum + tally.count, 0);
const mib = (bytes: number): string => (bytes / MiB).toFixed(1);

function report(start: DaemonProbe, end: DaemonProbe): boolean {
  const rssGrowth = (end.rssBytes - start.rssBytes) / start.rssBytes;
  const fdsHeld = end.fds - start.fds <= 0;
  const rssHeld = rssGrowth <= 0.1;
  const nothingLeft = end.leftovers.length === 0;
  const unexpected = [...tallies.values()].reduce((sum, tally) => sum + tally.failures, 0);
  console.log('\n| | start | end | change |');
  console.log('| --- | --- | --- | --- |');
  console.log(`| open fds | ${start.fds} | ${end.fds} | ${end.fds - start.fds >= 0 ? '+' : ''}${end.fds - start.fds} |`);
  console.log(`| RSS MiB | ${mib(start.rssBytes)} | ${mib(end.rssBytes)} | ${(rssGrowth * 100).toFixed(1)} % |`);
  if (Number.isFinite(lowestSampledRss)) {
    const fromLowest = ((end.rssBytes - lowestSampledRss) / lowestSampledRss) * 100;
    console.log(`| RSS MiB, lowest per-minute sample → end | ${mib(lowestSampledRss)} | ${mib(end.rssBytes)} | ${fromLowest.toFixed(1)} % |`);
  }
  for (const file of ['db', 'wal'] as const) {
    const [was, is] = [start.sqliteBytes[file], end.sqliteBytes[file]];
    console.log(`| SQLite ${file} bytes | ${was} | ${is} | ${is - was >= 0 ? '+' : ''}${is - was} |`);
  }
  console.log(`| leftovers | ${start.leftovers.length} | ${end.leftovers.length} | |`);
  for (const leftover of end.leftovers) console.log(`  left over: ${leftover}`);
  const kinds = fdKindChanges(start.fdKinds, end.fdKinds);
  if (kinds.length > 0) console.log(`  fds by kind, start → end: ${kinds.join('; ')}`);

  console.log('\n| operation | count | failed | mean s |');
  console.log('| --- | --- | --- | --- |');
  for (const [kind, tally] of [...tallies].sort(([a], [b]) => a.localeCompare(b))) {
    console.log(`| ${kind} | ${tally.count} | ${tally.failures} | ${(tally.totalMs / tally.count / 1000).toFixed(2)} |`);
  }
  console.log(`| all | ${operations()} | ${unexpected} | |`);
  for (const failure of failures) console.log(`  failed: ${failure}`);

  const verdict = (held: boolean) => (held ? 'met' : 'MISSED');
  console.log(`\ntargets: fds +0 ${verdict(fdsHeld)}; RSS growth ≤ 10 % ${verdict(rssHeld)}; nothing left over ${verdict(nothingLeft)}; failed operations: ${unexpected}`);
  return fdsHeld && rssHeld && nothingLeft && unexpected === 0;
}

console.log(
  `# soak: ${new Date().toISOString()}, ${availableParallelism()} cores, load ${loadavg()[0]?.toFixed(2)}, node ${process.version}; ` +
    `${minutes} min, ${maxVms} VMs of ${memoryMiB} MiB, ${parallel} at once, seed ${seed}, finished jobs kept ${jobRetention} s`,
);
let passed = false;
try {
  const { client, pid, stateDir } = await scratch.startDaemon({ BANGER_JOB_RETENTION_SECONDS: jobRetention });
  daemonPid = pid;
  const started = performance.now();
  await runJob(client, client.buildImage({ name: imageName, recipe: 'busybox' }), 'busybox build');
  console.log(`built ${imageName} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  const start = probeDaemon(pid, stateDir);
  console.log(`start: ${start.fds} fds, RSS ${mib(start.rssBytes)} MiB, SQLite ${start.sqliteBytes.db} + ${start.sqliteBytes.wal} (WAL) bytes, ${start.leftovers.length} leftovers`);

  startedAt = performance.now();
  const endAt = startedAt + minutes * 60_000;
  const sampler = setInterval(() => {
    const load = loadavg().map((value) => value.toFixed(2)).join(' ');
    const sqlite = sqliteBytes(stateDir);
    const rss = readRssBytes(pid);
    lowestSampledRss = Math.min(lowestSampledRss, rss);
    console.log(`${elapsed()}  ops ${operations()}  fds ${countFds(pid)}  RSS ${mib(rss)} MiB  SQLite ${mib(sqlite.db)} + ${mib(sqlite.wal)} MiB  VMs ${vms.size}  load ${load}`);
  }, 60_000);
  const worker = async () => {
    while (performance.now() < endAt && !stopped()) await step(client);
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  clearInterval(sampler);
  if (stopped()) throw new Error(scratch.interrupted.aborted ? 'interrupted' : `the daemon (pid ${pid}) exited`);
  console.log(`${elapsed()}  time is up after ${operations()} operations; deleting the ${vms.size} VMs left`);

  await Promise.all(
    [...vms.values()].map(async (vm) => {
      if (await timed('final delete', vm.name, async () => void (await runJob(client, client.deleteVm(vm.name), 'delete')))) vms.delete(vm.name);
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  const end = probeDaemon(pid, stateDir);
  passed = report(start, end);
} catch (error) {
  console.log(`soak stopped: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
} finally {
  await scratch.cleanUp();
}
process.exitCode = passed ? 0 : 1;
