import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildBusyboxImage } from '../../bench/busybox-image.js';
import { BUSYBOX_PROBE_PORT } from '../../server/guest/busybox-rootfs.js';
import { createWorkDisk } from '../../server/host/disks.js';
import { killProcessGroup } from '../../server/host/runner.js';
import { waitForGuestAgent } from '../../server/hypervisor/boot-wait.js';
import { LaunchError, type LaunchSpec, type VmProcess } from '../../server/hypervisor/driver.js';
import { lastLines, readLogTail } from '../../server/hypervisor/log-tail.js';
import { saveState } from '../../server/hypervisor/qemu/migration.js';
import { QemuDriver } from '../../server/hypervisor/qemu/qemu-driver.js';
import { withQmp } from '../../server/hypervisor/qemu/qmp-client.js';
import type { RestoreSpec } from '../../server/hypervisor/driver.js';
import { SnapshotIncompatibleError, type GuestMemory, type SnapshotArtifacts, type SnapshotSpec } from '../../server/hypervisor/snapshot.js';
import { debugfs, isAlive, processesMentioning } from '../helpers/api.js';
import { freePort } from '../helpers/guest.js';
import { addProbeScripts, guestState, probeGet, type GuestState } from '../helpers/probe-scripts.js';

const MiB = 1024 * 1024;
// A cold boot under TCG on a busy 2-core host (docs/guest-agent.md: up to ~15 s measured).
const COLD_READY_MS = 120_000;
const RESTORE_READY_MS = 30_000;
const MEMORY_MIB = 256;

const dir = await mkdtemp(join(tmpdir(), 'banger-qemu-snap-'));
const launched: VmProcess[] = [];
t.teardown(async () => {
  // Whatever a failed assertion left behind, by recorded identity only.
  for (const vm of launched) killProcessGroup(vm.pid, vm.startTime, 'SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

const image = await buildBusyboxImage(join(dir, 'image'));
await addProbeScripts(image.rootfs);
const driver = new QemuDriver();

interface Ready {
  vm: VmProcess;
  vmDir: string;
  port: number;
  /** From the launch or restore call until the probe's static page, and until the agent's health answer after it. */
  agentMs: number;
  httpMs: number;
  agentUptime: number;
  state: GuestState;
}

async function consoleTail(vm: VmProcess): Promise<string> {
  return lastLines(await readLogTail(vm.consoleLog), 30);
}

/** fn's failure, with the VM's console tail appended. */
async function withConsole<T>(vm: VmProcess, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw new Error(`${what}: ${(error as Error).message}\n--- console (${vm.consoleLog}) ---\n${await consoleTail(vm)}`, { cause: error });
  }
}

/** The probe service's static page: what "the guest serves HTTP" means, without the CGI's own cost. */
async function untilHttpAnswers(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) });
      if (response.ok && (await response.text()).startsWith('banger busybox guest')) return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`the probe service on port ${port} did not answer within ${timeoutMs} ms: ${(error as Error).message}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * The probe, then the agent, each timed from started. Not at once: on one TCG vCPU the agent's
 * health answer (a few forked commands) would slow the HTTP answer it is compared with.
 */
async function whenReady(vm: VmProcess, vmDir: string, port: number, started: number, timeoutMs: number): Promise<Ready> {
  return withConsole(vm, `${vmDir} did not come up`, async () => {
    await untilHttpAnswers(port, timeoutMs);
    const httpMs = Date.now() - started;
    const health = await waitForGuestAgent(driver, vm, { timeoutMs });
    const agentMs = Date.now() - started;
    return { vm, vmDir, port, agentMs, httpMs, agentUptime: health.uptimeSeconds, state: await guestState(port) };
  });
}

async function bootCold(name: string, extra: { memory?: GuestMemory; kernelArgs?: string[] } = {}): Promise<Ready & { spec: LaunchSpec }> {
  const vmDir = join(dir, name);
  await mkdir(vmDir);
  const rootDisk = await driver.prepareRootDisk(image.rootfs, vmDir);
  const workDisk = join(vmDir, 'work.ext4');
  await createWorkDisk(image.workSeed, workDisk, 64 * MiB);
  const port = await freePort();
  const spec: LaunchSpec = {
    vmDir,
    kernel: image.kernel,
    initrd: image.initrd,
    rootDisk,
    workDisk,
    cpus: 1,
    memoryMiB: MEMORY_MIB,
    portForwards: [{ hostPort: port, guestPort: BUSYBOX_PROBE_PORT }],
    ...extra,
  };
  const started = Date.now();
  const running = await driver.launch(spec, { onSpawn: (vm) => launched.push(vm) });
  return { ...(await whenReady(running.process, vmDir, port, started, COLD_READY_MS)), spec };
}

async function restoreClone(name: string, snapshot: SnapshotArtifacts, kernelArgs?: string[]): Promise<Ready & { loadMs: number }> {
  const vmDir = join(dir, name);
  await mkdir(vmDir);
  const disks = await driver.cloneDisks(snapshot, vmDir);
  const port = await freePort();
  const spec: RestoreSpec = {
    vmDir,
    kernel: image.kernel,
    initrd: image.initrd,
    ...disks,
    cpus: 1,
    memoryMiB: MEMORY_MIB,
    portForwards: [{ hostPort: port, guestPort: BUSYBOX_PROBE_PORT }],
    kernelArgs,
    snapshot,
  };
  const started = Date.now();
  const running = await driver.restore(spec, { onSpawn: (vm) => launched.push(vm) });
  const loadMs = Date.now() - started;
  if (!(await driver.isPaused(running.process))) throw new Error(`${name}: restore returned with the guest already running`);
  await driver.resume(running.process);
  return { ...(await whenReady(running.process, vmDir, port, started, RESTORE_READY_MS)), loadMs };
}

function statusKiB(pid: number, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1]);
}

function rssLine(pid: number): string {
  const mib = (field: string): string => `${(statusKiB(pid, field) / 1024).toFixed(1)}`;
  return `VmRSS ${mib('VmRSS')} MiB (anonymous ${mib('RssAnon')}, file ${mib('RssFile')})`;
}

/** The files QEMU holds open, as /proc shows them now (so a moved file shows its new path). */
function openFiles(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
    try {
      return [readlinkSync(`/proc/${pid}/fd/${fd}`)];
    } catch {
      return [];
    }
  });
}

function backingChain(disk: string): string[] {
  const chain = JSON.parse(execFileSync('qemu-img', ['info', '-U', '--backing-chain', '--output=json', disk], { encoding: 'utf8' })) as Array<{ filename: string }>;
  return chain.map((layer) => layer.filename);
}

async function snapshotDir(name: string): Promise<string> {
  const path = join(dir, name);
  await mkdir(path);
  return path;
}

function fmtSize(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

async function snapshotTimed(vm: VmProcess, spec: SnapshotSpec): Promise<{ artifacts: SnapshotArtifacts; ms: number; steps: string[] }> {
  const steps: string[] = [];
  const started = Date.now();
  const artifacts = await withConsole(vm, `snapshot into ${spec.dir}`, () => driver.snapshot(vm, spec, { onStep: (step) => steps.push(step) }));
  return { artifacts, ms: Date.now() - started, steps };
}

// Shared between the subtests, which run in order: later ones use what earlier ones made.
let sharedSnapshot: SnapshotArtifacts | undefined;
let plainSnapshot: SnapshotArtifacts | undefined;

t.test('shared memory file: snapshot a running VM, it goes on, two clones restore from it', async (t) => {
  const bootMarker = `src-${Date.now().toString(36)}`;
  const memoryFile = join(dir, 'shared-src', 'memory.ram');
  const source = await bootCold('shared-src', { memory: { file: memoryFile, shared: true }, kernelArgs: [`banger.test=${bootMarker}`] });
  t.comment(`cold boot (file-backed RAM): agent after ${source.agentMs} ms, HTTP after ${source.httpMs} ms; ${rssLine(source.vm.pid)}`);
  t.ok(existsSync(memoryFile), 'QEMU keeps guest RAM in the file');
  t.match(source.state.cmdline, `banger.test=${bootMarker}`, 'the guest booted with the marker on its command line');
  t.equal(await probeGet(source.port, 'remember', 'before-snapshot'), 'ok\n', 'a marker in the guest tmpfs (RAM only)');
  t.equal(await probeGet(source.port, 'touch', 'before'), 'ok\n', 'a file on the work disk');
  const before = await guestState(source.port);

  const dirPath = await snapshotDir('snap-shared');
  const continueOn = { rootDisk: source.spec.rootDisk, workDisk: join(source.vmDir, 'work.qcow2') };
  const { artifacts, ms, steps } = await snapshotTimed(source.vm, {
    dir: dirPath,
    rootDisk: source.spec.rootDisk,
    workDisk: source.spec.workDisk,
    after: 'resume',
    memory: { file: memoryFile, shared: true },
    continueOn,
  });
  sharedSnapshot = artifacts;
  const stateBytes = statSync(artifacts.stateFile).size;
  const memoryAllocated = statSync(join(dirPath, 'memory')).blocks * 512;
  t.comment(`snapshot (after=resume, shared RAM) took ${ms} ms: state file ${fmtSize(stateBytes)}, memory file ${fmtSize(memoryAllocated)} allocated of ${MEMORY_MIB} MiB, snapshot ${fmtSize(artifacts.sizeBytes)} on disk`);
  t.same(steps, ['pause', 'save_state', 'freeze_disks', 'resume'], 'steps reported in order');
  t.equal(artifacts.memoryFile, join(dirPath, 'memory'), 'RAM is a file of the snapshot');
  t.equal(statSync(join(dirPath, 'memory')).size, MEMORY_MIB * MiB);
  t.ok(stateBytes < 4 * MiB, `only device state in the state file (${stateBytes} bytes): RAM stayed out of it`);
  t.equal(artifacts.rootLayer, join(dirPath, 'root.qcow2'));
  t.equal(artifacts.workLayer, join(dirPath, 'work.raw'), 'the raw work disk, frozen under its format');
  t.match(artifacts.compatibility, { hypervisor: 'qemu', machine: 'q35', cpus: 1, memoryMiB: MEMORY_MIB, binaryVersion: /^QEMU emulator version / });
  t.same(await driver.compatibility(), { hypervisor: 'qemu', binaryVersion: artifacts.compatibility.binaryVersion, machine: 'q35' });
  t.ok(artifacts.sizeBytes >= memoryAllocated + stateBytes - 4096, 'sizeBytes counts what the files allocate');
  t.notOk(existsSync(source.spec.workDisk), 'the raw work disk moved into the snapshot');
  t.same(backingChain(continueOn.workDisk).slice(0, 2), [continueOn.workDisk, artifacts.workLayer], 'the source goes on over the frozen work layer');
  t.same(backingChain(continueOn.rootDisk).slice(0, 2), [continueOn.rootDisk, artifacts.rootLayer], '... and over the frozen root layer');

  const after = await withConsole(source.vm, 'the source after its snapshot', async () => {
    const health = await waitForGuestAgent(driver, source.vm, { timeoutMs: RESTORE_READY_MS });
    return { health, state: await guestState(source.port) };
  });
  t.ok(after.health.uptimeSeconds >= before.uptime, 'the source agent still answers');
  t.equal(after.state.bootId, before.bootId, 'the source went on without a reboot');
  t.equal(await probeGet(source.port, 'remember', 'source-after'), 'ok\n');
  t.equal(await probeGet(source.port, 'touch', 'after'), 'ok\n', 'the source writes to its new work layer');

  const a = await restoreClone('clone-a', artifacts, ['banger.test=clone-a']);
  const b = await restoreClone('clone-b', artifacts);
  for (const [label, clone] of [['clone A', a], ['clone B', b]] as const) {
    t.comment(`${label}: state loaded in ${clone.loadMs} ms; from restore start: agent ${clone.agentMs} ms, HTTP ${clone.httpMs} ms (cold boot: ${source.agentMs} / ${source.httpMs} ms); ${rssLine(clone.vm.pid)}`);
    const usage = await driver.memoryUsage(clone.vm).catch(() => undefined);
    if (usage !== undefined) t.comment(`${label}: driver.memoryUsage: rss ${fmtSize(usage.rssBytes)}, guest RAM ${fmtSize(usage.guestRamRssBytes)}`);
    t.equal(clone.state.bootId, before.bootId, `${label} runs the snapshot's kernel (same boot_id), not a new boot`);
    t.ok(clone.state.uptime >= before.uptime, `${label} uptime ${clone.state.uptime} s ≥ ${before.uptime} s at the snapshot`);
    t.ok(clone.agentUptime >= before.uptime, `${label} agent reports uptime ${clone.agentUptime} s`);
    t.match(clone.state.cmdline, `banger.test=${bootMarker}`, `${label} has the source's command line in its memory`);
    t.notMatch(clone.state.cmdline, 'clone-a', `${label}: its own -append never reached the guest`);
    t.equal(clone.state.memoryMarker, 'before-snapshot', `${label} has the tmpfs marker written before the snapshot, not the one after`);
    t.ok(clone.state.workFiles.includes('before'), `${label} has the work file written before the snapshot`);
    t.notOk(clone.state.workFiles.includes('after'), `${label} lacks the one the source wrote after it`);
  }

  t.equal(await probeGet(a.port, 'remember', 'only-in-a'), 'ok\n');
  t.equal(await probeGet(a.port, 'touch', 'a-file'), 'ok\n');
  const [stateA, stateB, stateSource] = await Promise.all([guestState(a.port), guestState(b.port), guestState(source.port)]);
  t.equal(stateA.memoryMarker, 'only-in-a', 'clone A sees its own write');
  t.equal(stateB.memoryMarker, 'before-snapshot', "clone B's memory is its own: A's write is not in it");
  t.equal(stateSource.memoryMarker, 'source-after', '... nor in the source');
  t.notOk(stateB.workFiles.includes('a-file'), "A's disk write is not on B's disk");

  for (const clone of [a, b]) t.equal(await driver.stop(clone.vm, { graceMs: 0 }), 'quit');
  // The host's view of A's disk, now that nothing runs on it.
  const flat = join(dir, 'clone-a-work.raw');
  execFileSync('qemu-img', ['convert', '-O', 'raw', join(a.vmDir, 'work.qcow2'), flat]);
  const listing = debugfs(flat, 'ls -l /').stdout;
  t.match(listing, /\sbefore\n/, "A's work disk has the file from before the snapshot");
  t.match(listing, /\sa-file\n/, '... and its own');
  t.notMatch(listing, /\safter\n/, "... and not the source's later one");
  await rm(flat);

  // The source goes on to the after='stop' test below.
  const dirStop = await snapshotDir('snap-stop');
  const beforeStop = await guestState(source.port);
  const stopped = await snapshotTimed(source.vm, {
    dir: dirStop,
    rootDisk: continueOn.rootDisk,
    workDisk: continueOn.workDisk,
    after: 'stop',
    memory: { file: memoryFile, shared: true },
  });
  t.comment(`snapshot (after=stop, shared RAM) took ${stopped.ms} ms`);
  t.same(stopped.steps, ['pause', 'save_state', 'freeze_disks', 'stop']);
  t.notOk(driver.isRunning(source.vm), "after='stop' the source process is gone");
  t.notOk(existsSync(memoryFile), 'its RAM file moved into the snapshot');
  t.notOk(existsSync(continueOn.rootDisk) || existsSync(continueOn.workDisk), 'so did its disks');
  t.equal(stopped.artifacts.workLayer, join(dirStop, 'work.qcow2'));
  const c = await restoreClone('clone-of-stopped', stopped.artifacts);
  t.comment(`clone of the stopped VM: agent ${c.agentMs} ms, HTTP ${c.httpMs} ms after restore start`);
  t.equal(c.state.bootId, beforeStop.bootId, 'a clone of the stopped VM runs its kernel');
  t.ok(c.state.uptime >= beforeStop.uptime, 'and its uptime goes on');
  t.equal(c.state.memoryMarker, 'source-after', 'with the memory the source had when it stopped');
  t.ok(c.state.workFiles.includes('after'), "and the source's later file");
  t.equal(await driver.stop(c.vm, { graceMs: 0 }), 'quit');
});

t.test('plain memory: the state file holds RAM, a clone restores; then 5 snapshots in a row of the same VM', async (t) => {
  const source = await bootCold('plain-src');
  t.comment(`cold boot: agent after ${source.agentMs} ms, HTTP after ${source.httpMs} ms; ${rssLine(source.vm.pid)}`);
  const before = await guestState(source.port);
  const dirPath = await snapshotDir('snap-plain');
  const disks = { rootDisk: source.spec.rootDisk, workDisk: join(source.vmDir, 'work.qcow2') };
  const { artifacts, ms } = await snapshotTimed(source.vm, { dir: dirPath, rootDisk: source.spec.rootDisk, workDisk: source.spec.workDisk, after: 'resume', continueOn: disks });
  plainSnapshot = artifacts;
  const stateBytes = statSync(artifacts.stateFile).size;
  t.comment(`snapshot (after=resume, plain RAM) took ${ms} ms: state file ${fmtSize(stateBytes)}, snapshot ${fmtSize(artifacts.sizeBytes)} on disk`);
  t.equal(artifacts.memoryFile, null, 'no memory file');
  t.ok(stateBytes > 16 * MiB, 'the RAM the guest used is in the state file');

  const clone = await restoreClone('plain-clone', artifacts);
  t.comment(`plain clone: state loaded in ${clone.loadMs} ms; agent ${clone.agentMs} ms, HTTP ${clone.httpMs} ms after restore start; ${rssLine(clone.vm.pid)}`);
  t.equal(clone.state.bootId, before.bootId, 'the clone runs the snapshot kernel');
  t.ok(clone.state.uptime >= before.uptime, `uptime ${clone.state.uptime} s ≥ ${before.uptime} s`);
  t.equal(await driver.stop(clone.vm, { graceMs: 0 }), 'quit');

  // The VM runs on a qcow2 overlay over a chain of frozen layers; every snapshot moves its top away.
  const expected = new Map<string, string>();
  const frozen: string[] = [artifacts.rootLayer, artifacts.workLayer];
  const sums = (text: string): Map<string, string> => new Map(text.trim().split('\n').map((line) => line.split(/\s+/).reverse() as [string, string]));
  for (let round = 1; round <= 5; round++) {
    for (const [file, sum] of sums(await probeGet(source.port, 'fill', `r${round}`))) expected.set(file, sum);
    const loopDir = await snapshotDir(`snap-loop-${round}`);
    const taken = await snapshotTimed(source.vm, { dir: loopDir, ...disks, after: 'resume' });
    t.pass(`snapshot ${round} of 5 completed in ${taken.ms} ms (${fmtSize(taken.artifacts.sizeBytes)})`);
    frozen.push(taken.artifacts.rootLayer, taken.artifacts.workLayer);
    const read = await withConsole(source.vm, `the source after snapshot ${round}`, async () => sums(await probeGet(source.port, 'sums')));
    t.same(Object.fromEntries(read), Object.fromEntries(expected), `round ${round}: every file written before reads back the same from disk`);
    const held = openFiles(source.vm.pid);
    t.same(
      frozen.filter((layer) => !held.includes(layer)),
      [],
      `round ${round}: QEMU still holds every frozen layer itself (none was reopened by its old path)`,
    );
  }
  t.equal(backingChain(disks.rootDisk).length, 8, 'root chain: current layer, 6 frozen layers, the image');

  // What the order in disk-freeze.ts avoids, reproduced: the disk's file moved before the state is
  // saved. The migration's inactivation reopens the node by its old path, which names nothing now.
  const moved = `${disks.rootDisk}.moved`;
  const failure = await withQmp(source.vm.controlSocket, async (client) => {
    await client.execute('stop');
    await rename(disks.rootDisk, moved);
    try {
      const stateFile = join(dir, 'doomed.state');
      return await saveState(client, { socketPath: join(source.vmDir, 'migrate.sock'), stateFile, ignoreShared: false, timeoutMs: 60_000, stderrLog: source.vm.stderrLog }).then(
        () => undefined,
        (error: unknown) => error,
      );
    } finally {
      await rename(moved, disks.rootDisk);
      await client.execute('cont');
    }
  });
  t.match(String(failure), /saving the VM state failed: .*bdrv_inactivate_all\(\) failed/, `moved first, the migration fails, and QEMU says why only on stderr: ${String(failure)}`);
  const afterFailure = sums(await withConsole(source.vm, 'the source after the failed migration', () => probeGet(source.port, 'sums')));
  t.same(Object.fromEntries(afterFailure), Object.fromEntries(expected), 'with the file back in place, cont resumes the VM with its disks intact');
  t.equal(await driver.stop(source.vm, { graceMs: 0 }), 'quit');
});

t.test('a state that does not load: LaunchError with QEMU’s message, nothing left running', async (t) => {
  if (plainSnapshot === undefined) {
    t.fail('needs the plain snapshot');
    return;
  }
  const broken = await snapshotDir('snap-broken');
  const truncated = join(broken, 'truncated.state');
  await copyFile(plainSnapshot.stateFile, truncated);
  await truncate(truncated, Math.floor(statSync(truncated).size / 2));
  const garbage = join(broken, 'garbage.state');
  await writeFile(garbage, Buffer.alloc(64 * 1024, 'not a migration stream '));

  for (const [label, stateFile, message] of [
    ['truncated', truncated, /load of migration failed/],
    ['garbage', garbage, /Not a migration stream|load of migration failed/],
  ] as const) {
    const spawned: VmProcess[] = [];
    const vmDir = join(dir, `broken-${label}`);
    await mkdir(vmDir);
    const disks = await driver.cloneDisks(plainSnapshot, vmDir);
    const error = await driver
      .restore(
        { vmDir, kernel: image.kernel, initrd: image.initrd, ...disks, cpus: 1, memoryMiB: MEMORY_MIB, portForwards: [], snapshot: { ...plainSnapshot, stateFile } },
        {
          onSpawn: (vm) => {
            spawned.push(vm);
            launched.push(vm);
          },
        },
      )
      .catch((caught: unknown) => caught);
    t.ok(error instanceof LaunchError, `${label}: ${String(error)}`);
    t.match((error as Error).message, message, `${label}: QEMU's own words`);
    t.match((error as LaunchError).stderrTail, /qemu-system-x86_64: /, `${label}: with QEMU's stderr`);
    t.equal(spawned.length, 1, `${label}: a process was started`);
    t.notOk(isAlive((spawned[0] as VmProcess).pid), `${label}: and is gone`);
    t.same(processesMentioning(vmDir), [], `${label}: nothing runs on the VM dir`);
  }

  let spawnedForMismatch = false;
  const mismatch = await driver
    .restore(
      { vmDir: join(dir, 'broken-truncated'), kernel: image.kernel, initrd: image.initrd, rootDisk: 'x.qcow2', workDisk: 'y.qcow2', cpus: 1, memoryMiB: 512, portForwards: [], snapshot: plainSnapshot },
      { onSpawn: () => (spawnedForMismatch = true) },
    )
    .catch((caught: unknown) => caught);
  t.ok(mismatch instanceof SnapshotIncompatibleError, String(mismatch));
  t.same((mismatch as SnapshotIncompatibleError).mismatches, [{ field: 'memoryMiB', snapshot: MEMORY_MIB, wanted: 512 }]);
  t.notOk(spawnedForMismatch, 'an incompatible restore starts nothing');
});

t.test('cloneDisks is O(1): layers over the frozen disks, nothing copied', async (t) => {
  if (sharedSnapshot === undefined) {
    t.fail('needs the shared snapshot');
    return;
  }
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    const vmDir = join(dir, `clone-disks-${i}`);
    await mkdir(vmDir);
    const started = performance.now();
    const disks = await driver.cloneDisks(sharedSnapshot, vmDir);
    samples.push(performance.now() - started);
    t.same(disks, { rootDisk: join(vmDir, 'root.qcow2'), workDisk: join(vmDir, 'work.qcow2') }, 'clone disks are named qcow2, so their format goes by name');
    for (const disk of [disks.rootDisk, disks.workDisk]) t.ok(statSync(disk).blocks * 512 < MiB, `${disk} allocates almost nothing`);
    await rm(vmDir, { recursive: true });
  }
  const sorted = [...samples].sort((x, y) => x - y);
  const median = sorted[2] as number;
  const layers = [sharedSnapshot.rootLayer, sharedSnapshot.workLayer].map((layer) => `${layer.split('/').pop()} ${fmtSize(statSync(layer).size)}`).join(', ');
  t.comment(`cloneDisks (2 qcow2 layers over ${layers}): median ${median.toFixed(1)} ms, range ${sorted[0]?.toFixed(1)}–${sorted[4]?.toFixed(1)} ms`);
  t.ok(median < 250, `median under 250 ms (${median.toFixed(1)} ms)`);
});
