// OpenAPI-driven fuzzing against a real daemon with a built image, a registered one and a running
// busybox VM: requests made from openapi.yaml (test/fuzz/openapi-requests.ts), valid and broken,
// sent one after another. Pass: no 5xx, every answer's headers within 2 s, every 4xx a valid
// problem, the daemon up afterwards, no file outside the state dir created or changed, and no
// process left that the daemon does not own. CI runs a seeded slice (BANGER_FUZZ_COUNT, default
// 1000; BANGER_FUZZ_SEED, default 42); bench/fuzz.ts runs 10,000.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { processesMentioning } from '../helpers/api.js';
import { makeTempDir } from '../helpers/daemon.js';
import { makeExt4Image, makeKernelFile } from '../helpers/ext4.js';
import { buildBusybox, createRunningVm, startVmDaemon } from '../helpers/vms.js';
import { sampleRequests } from '../fuzz/openapi-requests.js';
import { sendAll } from '../fuzz/send.js';

const count = Number(process.env.BANGER_FUZZ_COUNT ?? 1000);
const seed = Number(process.env.BANGER_FUZZ_SEED ?? 42);
t.setTimeout(30 * 60_000);

/** Where a run must leave no trace; caches other tests fill meanwhile are left out. */
const watchedDirs = ['/etc', '/root', '/usr', '/opt', '/srv', '/home', '/var/lib', '/boot'];

t.test(`${count} requests from the contract (seed ${seed})`, async (t) => {
  const daemon = await startVmDaemon(t, {
    env: { BANGER_MAX_VMS: '1', BANGER_MAX_VM_RECORDS: '4', BANGER_MAX_CONCURRENT_JOBS: '1', BANGER_VM_PORT_TIMEOUT_SECONDS: '10' },
  });
  const image = await buildBusybox(daemon, 'bb');
  const { vm } = await createRunningVm(daemon, { name: 'fz', image: 'bb', memoryMiB: 256, workDiskSize: '256M' });
  const files = await makeTempDir(t, 'banger-fuzz-files-');
  const rootfs = makeExt4Image(join(files, 'rootfs.ext4'), '32M');
  const kernel = makeKernelFile(files);
  const registered = await daemon.http('POST', '/images', { name: 'reg', rootfsPath: rootfs, kernelPath: kernel });
  t.equal(registered.status, 201, registered.text);
  mkdirSync(join(files, 'dir'));
  writeFileSync(join(files, 'text.txt'), 'not an image\n');
  const jobs = (await daemon.http('GET', '/jobs?limit=50')).body.items.map((job: any) => job.id);

  const known = {
    vms: ['fz', vm.id],
    images: ['bb', 'reg', image.id, registered.body.id],
    jobs,
    snapshots: ['none-yet'],
    hostPaths: [
      '/etc/shadow',
      '/proc/self/environ',
      '/dev/null',
      '/sys/kernel/notes',
      join(daemon.stateDir, 'banger.db'),
      rootfs,
      kernel,
      join(files, 'dir'),
      join(files, 'text.txt'),
      'relative/rootfs.ext4',
      '/root',
      '/tmp',
    ],
  };
  const marker = join(files, 'marker');
  writeFileSync(marker, '');
  const requests = sampleRequests(known, count, seed);
  const started = Date.now();
  const summary = await sendAll(daemon.socketPath, requests, { headersTimeoutMs: 2000, bodyMs: 2000 });
  const statuses = [...summary.counts.entries()].sort(([a], [b]) => a.localeCompare(b));
  t.comment(`${count} requests in ${((Date.now() - started) / 1000).toFixed(0)} s, slowest answer ${summary.slowestMs.toFixed(0)} ms: ${statuses.map(([status, n]) => `${status}×${n}`).join(', ')}`);
  t.same(
    summary.failures.slice(0, 15).map((failure) => `${failure.request.method} ${failure.request.path.slice(0, 160)} ${JSON.stringify(failure.request.body ?? '').slice(0, 200)} → ${failure.status}: ${failure.problem}`),
    [],
    `${summary.failures.length} answers broke a rule`,
  );

  // What the requests started is cancelled, and must end.
  const active = (await daemon.http('GET', '/jobs?status=queued&limit=500')).body.items.concat((await daemon.http('GET', '/jobs?status=running&limit=500')).body.items);
  for (const job of active) await daemon.http('POST', `/jobs/${job.id}/cancel`);
  const deadline = Date.now() + 5 * 60_000;
  let left: any[] = active;
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    left = (await daemon.http('GET', '/jobs?status=running&limit=500')).body.items.concat((await daemon.http('GET', '/jobs?status=queued&limit=500')).body.items);
  }
  t.same(left.map((job: any) => `${job.kind} ${job.id}`), [], 'every job the requests started has ended');

  const health = await daemon.http('GET', '/healthz');
  t.equal(health.status, 200, 'the daemon is up');

  const changed = execFileSync('find', [...watchedDirs, '-xdev', '-newer', marker, '-not', '-path', '/root/.npm/*', '-not', '-path', '/root/.cache/*', '-not', '-path', '/var/lib/apt/*', '-print'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  })
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith(daemon.stateDir));
  t.same(changed, [], 'no file outside the state dir was created or changed');

  const vmPids = new Set<number>((await daemon.http('GET', '/vms?limit=500')).body.items.map((item: any) => item.pid).filter((pid: unknown) => typeof pid === 'number'));
  const strays = processesMentioning(daemon.stateDir).filter((proc) => proc.pid !== daemon.child.pid && !vmPids.has(proc.pid));
  t.same(strays.map((proc) => proc.argv.join(' ').slice(0, 200)), [], 'every process that names the state dir is a VM the daemon lists');
});
