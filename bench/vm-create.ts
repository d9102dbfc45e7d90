/**
 * What banger costs on top of the hypervisor. In one run, alternating, for the busybox image
 * (probing its HTTP service on 8080) or the Debian image (probing sshd on 22):
 *
 *   banger   POST /vms {ports: [8080]} → the create job has succeeded (state running), measured by a
 *            client over the daemon's unix socket: validation, disk clones, port allocation, spawn,
 *            boot, agent, port probe, bookkeeping;
 *   raw      qemu-system-x86_64 started by hand on the same kind of disks (a qcow2 overlay of the same
 *            rootfs, the same work disk) with the same machine, vCPUs, memory and forwards, until the
 *            same readiness: the guest agent answers with an address and port 8080 passes the same
 *            probe. Disks are made before the clock starts: that is banger's work, not QEMU's.
 *
 * and prints the ratio, then the time the QEMU driver's root disk (a qcow2 overlay) takes for a 1 GiB and a 16 GiB sparse base.
 *
 *   npm run build && npx tsx bench/vm-create.ts [--recipe busybox|debian-bookworm] [--rounds 3] [--memory 512] [--clone-samples 7]
 */
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { targetIdOf, type BangerClient } from '../client/index.js';
import { queryAgent } from '../server/guest/agent-protocol.js';
import { kvmUsable } from '../server/host/kvm.js';
import { qemuBootArgs } from '../server/hypervisor/qemu/boot-args.js';
import { createQemuRootDisk } from '../server/hypervisor/qemu/root-disk.js';
import { unixSocketTransport } from '../server/hypervisor/unix-socket-transport.js';
import { createWorkDisk } from '../server/host/disks.js';
import { run, RunError } from '../server/host/runner.js';
import { probeTcpPort } from '../server/services/vms/port-probe.js';
import { killProcessesUsing } from '../server/host/strays.js';
import { median, seconds, startBenchDaemon, type BenchDaemon } from './bench-daemon.js';

const { values: flags } = parseArgs({
  options: {
    recipe: { type: 'string', default: 'busybox' },
    rounds: { type: 'string', default: '3' },
    memory: { type: 'string', default: '512' },
    'clone-samples': { type: 'string', default: '7' },
  },
});
const rounds = Number(flags.rounds);
const memoryMiB = Number(flags.memory);
const cloneSamples = Number(flags['clone-samples']);
const recipe = flags.recipe === 'debian-bookworm' ? 'debian-bookworm' : 'busybox';
// The service each image starts by itself: busybox httpd, or Debian's sshd.
const probePort = recipe === 'busybox' ? 8080 : 22;
const imageName = `bench-${recipe}`;
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

const work = await mkdtemp(join(tmpdir(), 'banger-bench-create-'));
const stateDir = join(work, 'state');
let daemon: BenchDaemon | undefined;
let rawQemu: AbortController | undefined;

async function cleanUp(): Promise<void> {
  rawQemu?.abort();
  // Guests outlive the daemon by design; the bench's own must not (found by pid and start time).
  await daemon?.stop();
  await killProcessesUsing(stateDir);
  await rm(work, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanUp().finally(() => process.exit(130)));

const ms = seconds;

async function waitReady(agentSocket: string, hostPort: number, exited: AbortSignal): Promise<void> {
  // The same readiness banger waits for: an agent answer with an address, then a probe that passes.
  for (;;) {
    const health = await queryAgent(unixSocketTransport(agentSocket), { command: 'health', timeoutMs: 120_000, signal: exited });
    if (health.addresses.length > 0) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  while ((await probeTcpPort(hostPort)) !== 'open') {
    if (exited.aborted) throw new Error('QEMU exited before the port opened');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** A free loopback port, as far as bind tells. */
async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function rawBoot(image: { kernelPath: string; initrdPath: string; rootfsPath: string; workSeedPath: string }, round: number): Promise<number> {
  const dir = join(work, `raw-${round}`);
  await mkdir(dir);
  const rootDisk = await createQemuRootDisk(image.rootfsPath, dir);
  const workDisk = join(dir, 'work.ext4');
  await createWorkDisk(image.workSeedPath, workDisk, GiB);
  const [sshPort, servicePort] = [await freePort(), await freePort()];
  const agentSocket = join(dir, 'agent.sock');
  const args = qemuBootArgs({
    kernel: image.kernelPath,
    initrd: image.initrdPath,
    rootfs: rootDisk,
    workDisk,
    memoryMiB,
    cpus: 1,
    agentSocket,
    consoleLog: join(dir, 'console.log'),
    accel: (await kvmUsable()) ? 'kvm' : 'tcg',
    hostForwards: [
      { hostPort: sshPort, guestPort: 22 },
      { hostPort: servicePort, guestPort: probePort },
    ],
  });

  rawQemu = new AbortController();
  const exited = new AbortController();
  const started = performance.now();
  const qemu = run('qemu-system-x86_64', args, { signal: rawQemu.signal, timeoutMs: 0 }).catch((error: unknown) => {
    if (!(error instanceof RunError && error.reason === 'aborted')) throw error;
  });
  void qemu.finally(() => exited.abort());
  try {
    await waitReady(agentSocket, servicePort, exited.signal);
    return performance.now() - started;
  } finally {
    rawQemu.abort();
    await qemu.catch(() => undefined);
    rawQemu = undefined;
    await rm(dir, { recursive: true, force: true });
  }
}

async function bangerCreate(client: BangerClient, round: number): Promise<{ ms: number; stages: Record<string, number> }> {
  const started = performance.now();
  const job = await client.createVm({ name: `bench-${round}`, image: imageName, memoryMiB, ports: [probePort] });
  const done = await client.waitJob(job.id, { timeoutMs: 300_000 });
  const elapsed = performance.now() - started;
  if (done.status !== 'succeeded') throw new Error(`create failed: ${done.error?.detail}`);
  const stages = Object.fromEntries(done.stages.map((stage) => [stage.name, stage.durationMs ?? 0]));
  const deleted = await client.deleteVm(targetIdOf(done));
  await client.waitJob(deleted.id, { timeoutMs: 60_000 });
  return { ms: elapsed, stages };
}

async function sparse(path: string, bytes: number): Promise<void> {
  const handle = await open(path, 'w');
  await handle.truncate(bytes);
  await handle.close();
}

try {
  const accel = (await kvmUsable()) ? 'kvm' : 'tcg';
  console.log(`vm-create bench: ${recipe} image, 1 vCPU, ${memoryMiB} MiB, guest port ${probePort} published and probed, ${rounds} rounds, accel ${accel}`);
  console.log(`host: ${availableParallelism()} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  daemon = await startBenchDaemon(stateDir);
  const { client } = daemon;
  const build = await client.buildImage({ name: imageName, recipe });
  const built = await client.waitJob(build.id, { timeoutMs: 600_000 });
  if (built.status !== 'succeeded') throw new Error(`image build failed: ${built.error?.detail}`);
  const image = await client.getImage(imageName);
  if (!image.initrdPath || !image.workSeedPath) throw new Error(`the ${recipe} image lacks an initrd or work seed`);
  const files = { kernelPath: image.kernelPath, initrdPath: image.initrdPath, rootfsPath: image.rootfsPath, workSeedPath: image.workSeedPath };

  // One unmeasured boot of each warms the page cache for the kernel, initrd and rootfs.
  await rawBoot(files, 0);
  await bangerCreate(client, 0);

  console.log('');
  console.log('round  banger POST→running  raw QEMU start→ready  ratio');
  const bangerTimes: number[] = [];
  const rawTimes: number[] = [];
  const stageTimes = new Map<string, number[]>();
  for (let round = 1; round <= rounds; round++) {
    // Alternate which goes first, so neither always gets the quieter moment.
    const order = round % 2 === 1 ? ['banger', 'raw'] : ['raw', 'banger'];
    let bangerMs = 0;
    let rawMs = 0;
    for (const which of order) {
      if (which === 'banger') {
        const result = await bangerCreate(client, round);
        bangerMs = result.ms;
        for (const [stage, duration] of Object.entries(result.stages)) stageTimes.set(stage, [...(stageTimes.get(stage) ?? []), duration]);
      } else {
        rawMs = await rawBoot(files, round);
      }
    }
    bangerTimes.push(bangerMs);
    rawTimes.push(rawMs);
    console.log(`${String(round).padStart(5)}  ${ms(bangerMs).padStart(19)}  ${ms(rawMs).padStart(20)}  ${(bangerMs / rawMs).toFixed(3)}`);
  }
  const ratio = median(bangerTimes) / median(rawTimes);
  console.log(`median ${ms(median(bangerTimes)).padStart(19)}  ${ms(median(rawTimes)).padStart(20)}  ${ratio.toFixed(3)}  → banger overhead ${((ratio - 1) * 100).toFixed(1)} % (${ms(median(bangerTimes) - median(rawTimes))})`);
  console.log(`banger stages (median ms): ${[...stageTimes].map(([stage, values]) => `${stage} ${Math.round(median(values))}`).join(', ')}`);

  console.log('');
  console.log(`disk clone: createQemuRootDisk (qemu-img create -f qcow2 -b BASE), median of ${cloneSamples}`);
  for (const size of [1 * GiB, 16 * GiB]) {
    const base = join(work, `base-${size}.raw`);
    await sparse(base, size);
    const samples: number[] = [];
    for (let i = 0; i < cloneSamples; i++) {
      const overlayDir = join(work, `overlay-${i}`);
      await mkdir(overlayDir);
      const started = performance.now();
      await createQemuRootDisk(base, overlayDir);
      samples.push(performance.now() - started);
      await rm(overlayDir, { recursive: true });
    }
    await rm(base);
    console.log(`  ${String(size / GiB).padStart(2)} GiB sparse base: median ${median(samples).toFixed(1)} ms (min ${Math.min(...samples).toFixed(1)}, max ${Math.max(...samples).toFixed(1)})`);
  }
} finally {
  await cleanUp();
}
