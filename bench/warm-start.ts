/**
 * What a warm start buys. In one run against one daemon, for each recipe (busybox probing HTTP on
 * 8080, Debian probing sshd on 22):
 *
 *   1. the image is built and warmed (POST /images/{id}/warm: boot, snapshot, delete);
 *   2. rounds of cold creates (warm: false) and warm creates (restore of the warm snapshot),
 *      alternating which goes first, each measured by a client from POST /vms to the job's
 *      success (state running: re-identified, agent and port ready), then deleted;
 *   3. the host overhead of one cold and one warm VM (GET /vms/{id} hostOverheadBytes: the
 *      hypervisor's RSS beyond guest RAM);
 *   4. density: the summed PSS of N cold VMs, then of N warm VMs of the same image (clones share
 *      the snapshot's RAM pages until they write);
 *   5. a burst: B warm creates at once, then B cold creates at once, wall time to all running.
 *
 *   npm run build && npx tsx bench/warm-start.ts [--recipes busybox,debian-bookworm] [--rounds 3]
 *        [--memory 512] [--density 8] [--burst 16] [--burst-recipes busybox]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { targetIdOf, type BangerClient, type Vm } from '../client/index.js';
import { readSmaps, sumMappings } from '../server/host/proc-memory.js';
import { median, seconds, startBenchDaemon, type BenchDaemon } from './bench-daemon.js';

const { values: flags } = parseArgs({
  options: {
    recipes: { type: 'string', default: 'busybox,debian-bookworm' },
    rounds: { type: 'string', default: '3' },
    memory: { type: 'string', default: '512' },
    density: { type: 'string', default: '8' },
    burst: { type: 'string', default: '16' },
    'burst-recipes': { type: 'string', default: 'busybox' },
  },
});
const recipes = String(flags.recipes).split(',').filter((recipe) => recipe === 'busybox' || recipe === 'debian-bookworm');
const rounds = Number(flags.rounds);
const memoryMiB = Number(flags.memory);
const density = Number(flags.density);
const burst = Number(flags.burst);
const burstRecipes = String(flags['burst-recipes']).split(',');
const MiB = 1024 * 1024;

const work = await mkdtemp(join(tmpdir(), 'banger-bench-warm-'));
let daemon: BenchDaemon | undefined;
async function cleanUp(): Promise<void> {
  await daemon?.stop();
  await rm(work, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanUp().finally(() => process.exit(130)));

const mib = (bytes: number | null | undefined) => (bytes === null || bytes === undefined ? '-' : `${(bytes / MiB).toFixed(0)} MiB`);
let serial = 0;

/** POST /vms → running, client side; the VM stays. */
async function create(client: BangerClient, image: string, port: number, warm: boolean): Promise<{ ms: number; vm: Vm }> {
  const started = performance.now();
  const job = await client.createVm({ name: `bench-${++serial}`, image, memoryMiB, ports: [port], warm });
  const done = await client.waitJob(job.id, { timeoutMs: 900_000 });
  const ms = performance.now() - started;
  if (done.status !== 'succeeded') throw new Error(`create failed: ${done.error?.detail}`);
  const vm = await client.getVm(targetIdOf(done));
  if (vm.bootMode !== (warm ? 'warm' : 'cold')) throw new Error(`asked for a ${warm ? 'warm' : 'cold'} create, got ${vm.bootMode}`);
  return { ms, vm };
}

async function remove(client: BangerClient, vms: Vm[]): Promise<void> {
  const jobs = await Promise.all(vms.map((vm) => client.deleteVm(vm.id)));
  await Promise.all(jobs.map((job) => client.waitJob(job.id, { timeoutMs: 120_000 })));
}

async function pssOf(vms: Vm[]): Promise<number> {
  let total = 0;
  for (const vm of vms) {
    const mappings = vm.pid === null ? null : await readSmaps(vm.pid);
    if (mappings) total += sumMappings(mappings).pssBytes;
  }
  return total;
}

async function createMany(client: BangerClient, image: string, port: number, warm: boolean, count: number): Promise<{ ms: number; vms: Vm[] }> {
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: count }, () => create(client, image, port, warm)));
  return { ms: performance.now() - started, vms: results.map((result) => result.vm) };
}

async function benchRecipe(client: BangerClient, recipe: string): Promise<void> {
  const image = `bench-${recipe}`;
  const port = recipe === 'busybox' ? 8080 : 22;
  console.log(`\n== ${recipe}: 1 vCPU, ${memoryMiB} MiB, guest port ${port} published and probed`);
  const build = await client.waitJob((await client.buildImage({ name: image, recipe: recipe as 'busybox' })).id, { timeoutMs: 900_000 });
  if (build.status !== 'succeeded') throw new Error(`build failed: ${build.error?.detail}`);
  const warmed = await client.waitJob((await client.warmImage(image, { memoryMiB, ports: [port] })).id, { timeoutMs: 900_000 });
  if (warmed.status !== 'succeeded') throw new Error(`warm-up failed: ${warmed.error?.detail}`);
  const snapshot = (warmed.result as { snapshot: { name: string; sizeBytes: number; memory: string } }).snapshot;
  console.log(`warm snapshot ${snapshot.name}: ${mib(snapshot.sizeBytes)} on disk (memory kept as a ${snapshot.memory}), warm-up ${seconds(Date.parse(warmed.finishedAt ?? '') - Date.parse(warmed.startedAt ?? ''))}`);

  console.log('round  cold POST→running  warm POST→running  warm/cold');
  const cold: number[] = [];
  const warm: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? [false, true] : [true, false];
    const times: Record<string, number> = {};
    for (const mode of order) {
      const { ms, vm } = await create(client, image, port, mode);
      times[mode ? 'warm' : 'cold'] = ms;
      await remove(client, [vm]);
    }
    cold.push(times.cold as number);
    warm.push(times.warm as number);
    console.log(`${String(round).padStart(5)}  ${seconds(times.cold as number).padStart(17)}  ${seconds(times.warm as number).padStart(17)}  ${((times.warm as number) / (times.cold as number)).toFixed(3).padStart(9)}`);
  }
  console.log(`median ${seconds(median(cold)).padStart(16)}  ${seconds(median(warm)).padStart(17)}  ${(median(warm) / median(cold)).toFixed(3).padStart(9)}`);

  const coldVm = await create(client, image, port, false);
  const warmVm = await create(client, image, port, true);
  const overheadCold = (await client.getVm(coldVm.vm.id)).hostOverheadBytes;
  const overheadWarm = (await client.getVm(warmVm.vm.id)).hostOverheadBytes;
  console.log(`host overhead per VM (RSS beyond guest RAM): cold ${mib(overheadCold)}, warm ${mib(overheadWarm)}`);
  await remove(client, [coldVm.vm, warmVm.vm]);

  if (density > 0) {
    const colds = await createMany(client, image, port, false, density);
    const coldPss = await pssOf(colds.vms);
    await remove(client, colds.vms);
    const warms = await createMany(client, image, port, true, density);
    const warmPss = await pssOf(warms.vms);
    await remove(client, warms.vms);
    console.log(`density: summed PSS of ${density} VMs: cold ${mib(coldPss)}, warm ${mib(warmPss)}, ratio ${(warmPss / coldPss).toFixed(3)}`);
  }

  if (burst > 0 && burstRecipes.includes(recipe)) {
    const warms = await createMany(client, image, port, true, burst);
    await remove(client, warms.vms);
    const colds = await createMany(client, image, port, false, burst);
    await remove(client, colds.vms);
    console.log(`burst: ${burst} creates at once, wall time to all running: warm ${seconds(warms.ms)}, cold ${seconds(colds.ms)}, ratio ${(warms.ms / colds.ms).toFixed(3)}`);
  }
}

try {
  console.log(`warm-start bench: ${recipes.join(', ')}; ${rounds} rounds; host ${availableParallelism()} cores, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  daemon = await startBenchDaemon(join(work, 'state'), {
    BANGER_MAX_VMS: String(Math.max(burst, density) + 2),
    BANGER_MAX_CONCURRENT_JOBS: String(Math.max(burst, density, 4)),
    BANGER_VM_BOOT_TIMEOUT_SECONDS: '900',
    BANGER_VM_PORT_TIMEOUT_SECONDS: '600',
  });
  for (const recipe of recipes) await benchRecipe(daemon.client, recipe);
} finally {
  await cleanUp();
}
