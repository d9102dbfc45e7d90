/**
 * How fast the daemon answers its list endpoints, against the cheapest request it has. One daemon
 * (the dist/ build) per row count, on its unix socket; autocannon keeps --connections keep-alive
 * connections busy on each endpoint for --duration seconds (after a warm-up: every endpoint for a
 * second first, then a second before each measurement) and the bench prints req/s, p50 and p99
 * latency, and req/s as a ratio to GET /healthz measured on the same daemon just before.
 *
 *   npm run build && npx tsx bench/list-speed.ts [--rows 0,1,16] [--duration 5] [--connections 8]
 *                                                [--profile DIR] [--endpoints vms,images,jobs,snapshots,vm]
 *                                                [--bin before=../old/dist/bin/banger.js,after=dist/bin/banger.js]
 *                                                [--rounds 1] [--fresh]
 *
 * For a row count N the state dir is made by a daemon start, then the daemon is stopped and N
 * images, N VMs (state stopped, each with two published ports, on the first four images, whose
 * rows declare a service), N finished jobs and N snapshots are inserted through the server's own
 * repositories, and the daemon is started again. Stopped VMs, because a running row needs a live
 * hypervisor: the reconciler marks a running VM without one stopped at start. A list's cost is
 * the same for both states (the view of a running VM without a fresh answer from its agent shows
 * the same fields); GET /vms/{id} of a running VM also reads /proc and may ask the guest, which is
 * not measured here. With N = 0, GET /vms/{id} is a 404 (a lookup that finds nothing).
 *
 * --profile DIR runs each daemon with node --cpu-prof into DIR and prints where its CPU time went
 * (self time by package and the top frames). --endpoints measures only those (GET /healthz, the
 * baseline, always runs first), e.g. to profile one endpoint alone. --bin compares builds: for each
 * row count, each build's daemon in turn, so that both meet the same host load. --rounds repeats
 * every measurement (a new daemon each time) and the last table gives the medians.
 *
 * The daemon keeps a list's answer until its data changes (server/http/kept-answers.ts), so a list
 * asked over and over is measured as kept. --fresh asks each list's first page with 100 cursors in
 * turn instead (http-load.ts freshPaths), so that every answer is made from the rows: what a page
 * costs after a change.
 *
 * Besides req/s and latency it prints the daemon's CPU time per request (utime + stime from /proc
 * over the measured seconds): on a host where other work competes for the cores, req/s moves with
 * that work, the CPU a request costs much less.
 */
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readProcStat } from '../server/host/proc.js';
import { median, startBenchDaemon, type BenchDaemon } from './bench-daemon.js';
import { summarizeProfile } from './cpu-profile.js';
import { beforeNames, cannon, freshPaths, measure, measuredCells, tableHeader, type Measured } from './http-load.js';
import { insertListRows } from './list-rows.js';

const { values: flags } = parseArgs({
  options: {
    rows: { type: 'string', default: '0,1,16' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '8' },
    profile: { type: 'string' },
    endpoints: { type: 'string', default: 'vms,images,jobs,snapshots,vm' },
    bin: { type: 'string' },
    rounds: { type: 'string', default: '1' },
    fresh: { type: 'boolean', default: false },
  },
});
const rowCounts = String(flags.rows).split(',').map(Number);
const duration = Number(flags.duration);
const rounds = Number(flags.rounds);
const connections = Number(flags.connections);
const profileDir = flags.profile === undefined ? undefined : resolve(flags.profile);
const measuredEndpoints = new Set(String(flags.endpoints).split(','));
// label=path/to/bin/banger.js,…: several builds measured in turn; this tree's dist/ by default.
const builds = (flags.bin ?? 'this=').split(',').map((entry) => {
  const [label = '', bin = ''] = entry.split('=');
  return { label, bin: bin === '' ? undefined : resolve(bin) };
});

const work = await mkdtemp(join(tmpdir(), 'banger-bench-list-'));
let daemon: BenchDaemon | undefined;
async function cleanUp(): Promise<void> {
  await daemon?.stop();
  await rm(work, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanUp().finally(() => process.exit(130)));

interface Cell {
  build: string;
  endpoint: string;
  rows: number;
  rounds: Array<Measured & { ratio: number }>;
}
const cells = new Map<string, Cell>();
const showBuild = builds.length > 1;
const tableRow = (cell: Pick<Cell, 'build' | 'endpoint' | 'rows'>, m: Measured & { ratio: number }) =>
  `| ${showBuild ? `${cell.build} | ` : ''}${cell.endpoint} | ${cell.rows} | ${measuredCells(m)} |`;
const medianOf = (cell: Cell, key: keyof Measured | 'ratio') => median(cell.rounds.map((round) => round[key]));

console.log(`# list-speed: ${availableParallelism()} cores, load ${loadavg()[0]?.toFixed(2)}, node ${process.version}, ${connections} connections, ${duration} s per endpoint, ${rounds} round(s)`);
try {
  if (profileDir) await mkdir(profileDir, { recursive: true });
  for (const n of rowCounts) {
    for (let round = 1; round <= rounds; round++) {
      // With several builds, each meets the same host load: one after the other for each row count.
      for (const build of builds) {
        const label = `${build.label}-rows-${n}-round-${round}`;
        const stateDir = join(work, label);
        daemon = await startBenchDaemon(stateDir, {}, { bin: build.bin });
        await daemon.stop();
        const firstVm = insertListRows(stateDir, n);
        const profileRun = profileDir ? join(profileDir, label) : undefined;
        daemon = await startBenchDaemon(stateDir, {}, { bin: build.bin, nodeArgs: profileRun ? ['--cpu-prof', '--cpu-prof-dir', profileRun] : [] });
        const target = { socketPath: join(stateDir, 'banger.sock'), connections, pid: daemon.pid };
        const listed = await daemon.client.listVms();
        if (listed.items.length !== Math.min(n, 50)) throw new Error(`GET /vms lists ${listed.items.length} VMs of ${n} inserted`);

        // With --fresh, each list's first page is asked with 100 cursors in turn: no answer is kept.
        const list = (name: string, path: string, before: (i: number) => unknown) =>
          flags.fresh ? { name, shown: `${path} (fresh)`, paths: freshPaths(path, 100, before), status: 200 } : { name, shown: path, paths: [path], status: 200 };
        const endpoints: Array<{ name: string; shown: string; paths: string[]; status: number }> = [
          { name: 'healthz', shown: '/healthz', paths: ['/healthz'], status: 200 },
          list('vms', '/vms?limit=50', beforeNames),
          list('images', '/images', beforeNames),
          list('jobs', '/jobs', (i) => ({ createdAt: '9999', id: String(i) })),
          list('snapshots', '/snapshots', beforeNames),
          { name: 'vm', shown: `/vms/{id}${firstVm ? '' : ' (404)'}`, paths: [`/vms/${firstVm ?? 'no-such-vm'}`], status: firstVm ? 200 : 404 },
        ];
        let baseline = Number.NaN;
        const measuring = endpoints.filter(({ name }) => name === 'healthz' || measuredEndpoints.has(name));
        // Every endpoint once before any is measured: the code they share is compiled by then, and
        // the first one measured does not pay for it.
        for (const { paths, status } of measuring) await cannon(target, paths, status, 1);
        for (const { name, shown: endpoint, paths, status } of measuring) {
          const measured = await measure(target, paths, status, duration);
          if (name === 'healthz') baseline = measured.reqPerSec;
          const key = `${build.label} ${endpoint} ${n}`;
          const cell = cells.get(key) ?? { build: build.label, endpoint, rows: n, rounds: [] };
          cells.set(key, cell);
          const withRatio = { ...measured, ratio: measured.reqPerSec / baseline };
          const row = tableRow(cell, withRatio);
          // A measurement with errors (say, something on the host killed the daemon) is shown, not counted.
          if (measured.unexpected === 0) cell.rounds.push(withRatio);
          console.log(measured.unexpected > 0 ? `${row} ${measured.unexpected} unexpected answers or errors: not counted` : row);
          if (readProcStat(daemon.pid) === null) {
            console.log(`the daemon (pid ${daemon.pid}) is gone: the rest of this round is skipped`);
            break;
          }
        }
        await daemon.stop();
        daemon = undefined;
        if (profileRun) {
          for (const file of (await readdir(profileRun)).filter((name) => name.endsWith('.cpuprofile'))) {
            console.log(`\n## profile of the daemon${showBuild ? ` (${build.label})` : ''} with ${n} rows (${join(profileRun, file)})\n${await summarizeProfile(join(profileRun, file))}\n`);
          }
        }
      }
    }
  }
  console.log(`\n${rounds > 1 ? `Medians of ${rounds} rounds:\n` : ''}${tableHeader([...(showBuild ? ['build'] : []), 'endpoint', 'rows'])}`);
  for (const cell of cells.values()) {
    const medians = { reqPerSec: medianOf(cell, 'reqPerSec'), p50: medianOf(cell, 'p50'), p99: medianOf(cell, 'p99'), cpuUs: medianOf(cell, 'cpuUs'), bytes: medianOf(cell, 'bytes'), unexpected: 0, ratio: medianOf(cell, 'ratio') };
    console.log(`${tableRow(cell, medians)}${cell.rounds.length < rounds ? ` ${cell.rounds.length} of ${rounds} rounds` : ''}`);
  }
} finally {
  await cleanUp();
}
