/**
 * The API's read speed as issue #10 asks for it, in one run against one daemon (the dist/ build)
 * on its unix socket: GET /healthz as the baseline, then GET /vms?limit=50 and GET /vms/{name}
 * with --vms VMs, GET /images with --images images, GET /jobs/{id}; then GET /vms?limit=50 again
 * while --running of the VMs on its page run. It prints req/s, p50/p99 latency, the ratio to
 * /healthz, the daemon's CPU time per request and the size of an answer.
 *
 *   npm run build && npx tsx bench/api.ts [--vms 1000] [--images 200] [--running 2] [--memory 256]
 *                                         [--duration 5] [--connections 8] [--parallel 8] [--bin OTHER/dist/bin/banger.js]
 *
 * Everything goes through the API, as a client would do it: one busybox image is built
 * (POST /images/builds), the other images are that image's files registered under other names
 * (POST /images, which takes the same files more than once over the unix socket), and the VMs are
 * created with start: false (POST /vms, --parallel at a time, each job followed to its end), so
 * they are stopped with their disks made and ports reserved. Then the first --running of them
 * are started (POST /vms/{name}/start), and the page is measured again.
 *
 * The daemon keeps a list's answer until its data changes (server/http/kept-answers.ts), and a
 * bench that asks one page over and over measures that kept answer. So the list is measured twice:
 * as asked (the same page again and again: a poller's case) and "fresh", the same first page
 * asked with 100 cursors in turn (bench/http-load.ts freshPaths): every answer made from the
 * rows, what a page costs after something changed.
 *
 * A third row asks the page with the ETag it answered in If-None-Match: the 304 a poller gets
 * while the page is unchanged. Two more ask it with Accept-Encoding br and gzip, as curl
 * --compressed, browsers, Go's and Python's HTTP clients do: the kept page goes compressed, ~4 KiB
 * instead of ~58 KiB. The load generator counts those bytes without decompressing them, as it reads
 * the plain page without parsing it.
 *
 * autocannon runs in a node process of its own (http-load.ts measureEndpointsApart): in the process
 * that made the VMs its own pauses showed up as p99 latency (8-10 ms instead of ~2 ms).
 *
 * --bin runs another build's daemon (e.g. one from before a change) with the same requests.
 *
 * The state dir and the daemon (and the guests) are removed at the end, also on Ctrl-C.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { BangerClient } from '../client/index.js';
import { seconds, startBenchDaemon, type BenchDaemon } from './bench-daemon.js';
import { beforeNames, freshPaths, measuredCells, measureEndpointsApart, tableHeader, type Endpoint, type LoadTarget } from './http-load.js';

const { values: flags } = parseArgs({
  options: {
    vms: { type: 'string', default: '1000' },
    images: { type: 'string', default: '200' },
    running: { type: 'string', default: '2' },
    memory: { type: 'string', default: '256' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '8' },
    parallel: { type: 'string', default: '8' },
    bin: { type: 'string' },
  },
});
const vmCount = Number(flags.vms);
const imageCount = Number(flags.images);
const runningCount = Number(flags.running);
const memoryMiB = Number(flags.memory);
const duration = Number(flags.duration);
const connections = Number(flags.connections);
const parallel = Number(flags.parallel);

const work = await mkdtemp(join(tmpdir(), 'banger-bench-api-'));
let daemon: BenchDaemon | undefined;
async function cleanUp(): Promise<void> {
  await daemon?.stop();
  await rm(work, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanUp().finally(() => process.exit(130)));

const pad = (i: number) => String(i).padStart(4, '0');
const vmName = (i: number) => `bench-vm-${pad(i)}`;
const imageName = 'bench-busybox';

/** Runs `task` for 0..count-1, `parallel` at a time. */
async function inParallel(count: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
}

async function runJob(client: BangerClient, started: Promise<{ id: string }>, what: string): Promise<string> {
  const job = await client.waitJob((await started).id, { timeoutMs: 600_000 });
  if (job.status !== 'succeeded') throw new Error(`${what}: job ${job.status}: ${job.error?.detail ?? ''}`);
  return job.id;
}

async function populate(client: BangerClient): Promise<{ createJobId: string }> {
  let started = performance.now();
  await runJob(client, client.buildImage({ name: imageName, recipe: 'busybox' }), 'busybox build');
  const built = await client.getImage(imageName);
  console.log(`built ${imageName} in ${seconds(performance.now() - started)}`);

  started = performance.now();
  const files = {
    rootfsPath: built.rootfsPath,
    kernelPath: built.kernelPath,
    ...(built.workSeedPath ? { workSeedPath: built.workSeedPath } : {}),
    ...(built.initrdPath ? { initrdPath: built.initrdPath } : {}),
    ...(built.modulesDir ? { modulesDir: built.modulesDir } : {}),
  };
  await inParallel(imageCount - 1, async (i) => {
    const { created } = await client.registerImage({ name: `bench-image-${pad(i)}`, ...files });
    if (!created) throw new Error(`bench-image-${pad(i)} existed already`);
  });
  console.log(`registered ${imageCount - 1} more images (its files under other names) in ${seconds(performance.now() - started)}`);

  started = performance.now();
  let createJobId = '';
  await inParallel(vmCount, async (i) => {
    createJobId = await runJob(client, client.createVm({ name: vmName(i), image: imageName, start: false, memoryMiB }), `create ${vmName(i)}`);
    if ((i + 1) % 200 === 0) console.log(`  ${i + 1} VMs (${seconds(performance.now() - started)})`);
  });
  console.log(`created ${vmCount} VMs (start: false, ${parallel} at a time) in ${seconds(performance.now() - started)}`);
  return { createJobId };
}

/** Measures GET /healthz and then the endpoints, from a process of their own (http-load.ts); prints a row each. */
async function measureAll(target: LoadTarget, label: string, endpoints: Array<Omit<Endpoint, 'status'> & { status?: number }>): Promise<void> {
  const all = [{ shown: '/healthz', paths: ['/healthz'] }, ...endpoints].map((endpoint) => ({ status: 200, ...endpoint }));
  for (const measured of await measureEndpointsApart(target, all, duration)) {
    const errors = measured.unexpected > 0 ? ` ${measured.unexpected} unexpected answers or errors` : '';
    console.log(`| ${label} | ${measured.shown} | ${measuredCells(measured)} |${errors}`);
  }
}

/** The ETag of a GET over the daemon's socket. */
function etagOf(stateDir: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: join(stateDir, 'banger.sock'), path }, (res) => {
      res.resume();
      const etag = res.headers.etag;
      if (res.statusCode === 200 && etag) resolve(etag);
      else reject(new Error(`GET ${path}: ${res.statusCode}, etag ${etag}`));
    });
    req.on('error', reject);
    req.end();
  });
}

console.log(
  `# api: ${availableParallelism()} cores, load ${loadavg()[0]?.toFixed(2)}, node ${process.version}, ${connections} connections, ${duration} s per endpoint; ` +
    `${vmCount} VMs, ${imageCount} images`,
);
try {
  daemon = await startBenchDaemon(join(work, 'state'), {
    BANGER_MAX_VM_RECORDS: String(vmCount + 10),
    BANGER_MAX_VMS: String(runningCount + 2),
    BANGER_MAX_CONCURRENT_JOBS: String(parallel),
  }, { bin: flags.bin === undefined ? undefined : resolve(flags.bin) });
  const { client } = daemon;
  const { createJobId } = await populate(client);
  const listed = await client.listVms({ limit: 50 });
  const images = await client.listImages({ limit: 500 });
  if (listed.items.length !== Math.min(50, vmCount) || images.items.length !== imageCount) {
    throw new Error(`listed ${listed.items.length} VMs and ${images.items.length} images`);
  }

  const target = { socketPath: join(daemon.stateDir, 'banger.sock'), connections, pid: daemon.pid };
  const middle = vmName(Math.floor(vmCount / 2));
  const vmsPage = { shown: '/vms?limit=50', paths: ['/vms?limit=50'] };
  // A poller's case beside the issue's: it sends back the ETag of the page it has and gets 304 while the page is unchanged.
  const etag = await etagOf(daemon.stateDir, '/vms?limit=50');
  const vmsUnchanged = { shown: '/vms?limit=50 If-None-Match (304)', paths: ['/vms?limit=50'], headers: { 'if-none-match': etag }, status: 304 };
  const vmsFresh = { shown: '/vms?limit=50 (fresh)', paths: freshPaths('/vms?limit=50', 100, beforeNames) };
  const vmsCompressed = (coding: string) => ({ shown: `/vms?limit=50 Accept-Encoding: ${coding}`, paths: ['/vms?limit=50'], headers: { 'accept-encoding': coding } });
  console.log(`\n${tableHeader(['VMs running', 'endpoint'])}`);
  await measureAll(target, '0', [
    vmsPage,
    vmsCompressed('br'),
    vmsCompressed('gzip'),
    vmsUnchanged,
    vmsFresh,
    { ...vmsFresh, shown: '/vms?limit=50 (fresh) Accept-Encoding: br', headers: { 'accept-encoding': 'br' } },
    { shown: '/vms/{name}', paths: [`/vms/${middle}`] },
    { shown: '/images', paths: ['/images'] },
    { shown: '/images (fresh)', paths: freshPaths('/images', 100, beforeNames) },
    { shown: '/jobs/{id}', paths: [`/jobs/${createJobId}`] },
  ]);

  const started = performance.now();
  await inParallel(runningCount, async (i) => void (await runJob(client, client.startVm(vmName(i)), `start ${vmName(i)}`)));
  const running = (await client.listVms({ state: 'running' })).items.map((vm) => vm.name);
  if (running.length !== runningCount) throw new Error(`${running.length} VMs run, ${runningCount} were started`);
  console.log(`\nstarted ${running.join(', ')} (on the first page) in ${seconds(performance.now() - started)}\n\n${tableHeader(['VMs running', 'endpoint'])}`);
  await measureAll(target, String(runningCount), [vmsPage, vmsCompressed('br'), vmsFresh, { shown: '/vms/{name} (running)', paths: [`/vms/${vmName(0)}`] }]);
} finally {
  await cleanUp();
}
