import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { BUSYBOX_PROBE_PORT, buildBusyboxRootfs } from '../../server/guest/busybox-rootfs.js';
import { buildInitrd, DEFAULT_INITRD_MODULES } from '../../server/guest/initrd.js';
import { readProcStat } from '../../server/host/proc.js';
import { createWorkDisk, DiskSizeError } from '../../server/host/disks.js';
import { createQemuRootDisk } from '../../server/hypervisor/qemu/root-disk.js';
import { makeExt4 } from '../../server/host/ext4.js';
import { ensureDefaultKernel } from '../../server/host/kernel/cache.js';
import { killProcessGroup } from '../../server/host/runner.js';
import { BootFailureError } from '../../server/hypervisor/boot-failure.js';
import { waitForGuestAgent } from '../../server/hypervisor/boot-wait.js';
import { LaunchError, PortConflictError, type LaunchSpec, type VmProcess } from '../../server/hypervisor/driver.js';
import { lastLines, readLogTail } from '../../server/hypervisor/log-tail.js';
import { QemuDriver } from '../../server/hypervisor/qemu/qemu-driver.js';
import { withQmp } from '../../server/hypervisor/qemu/qmp-client.js';
import { spawnDetached } from '../../server/host/detached.js';
import { freePort, testCacheRoot } from '../helpers/guest.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const AGENT_TIMEOUT_MS = 120_000;
// The busybox image has no ACPI handling, so it ignores the power button and stop
// falls back to QMP quit after this grace.
const STOP_GRACE_MS = 5000;

const dir = await mkdtemp(join(tmpdir(), 'banger-qemu-driver-'));
const launched: VmProcess[] = [];
t.teardown(async () => {
  // Whatever a failed assertion left behind, by recorded identity only.
  for (const vm of launched) killProcessGroup(vm.pid, vm.startTime, 'SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

const kernel = await ensureDefaultKernel(join(testCacheRoot, 'kernels'));
const initrd = join(dir, 'initrd.img');
const rootfs = join(dir, 'rootfs.ext4');
const workSeed = join(dir, 'work-seed.ext4');
await buildInitrd(initrd, { modulesDir: kernel.modulesDir, kernelVersion: kernel.version, modules: DEFAULT_INITRD_MODULES });
await buildBusyboxRootfs(join(dir, 'root'), { modulesDir: kernel.modulesDir, kernelVersion: kernel.version });
await makeExt4(rootfs, 256 * MiB, { fromDir: join(dir, 'root') });
await rm(join(dir, 'root'), { recursive: true, force: true });
await mkdir(join(dir, 'seed', '.ssh'), { recursive: true, mode: 0o700 });
const authorizedKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ0Tmpxmm40WKaHRtfcc7lGZR4o7cBrXqGrDgf+Wf9Xw banger-test\n';
await writeFile(join(dir, 'seed', '.ssh', 'authorized_keys'), authorizedKey, { mode: 0o600 });
await makeExt4(workSeed, 64 * MiB, { fromDir: join(dir, 'seed'), label: 'banger-work' });

async function sparseFile(path: string, bytes: number): Promise<void> {
  const handle = await open(path, 'w');
  await handle.truncate(bytes);
  await handle.close();
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function dumpe2fsHeader(image: string): Map<string, string> {
  const text = execFileSync('dumpe2fs', ['-h', image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, LC_ALL: 'C' } });
  return new Map(text.split('\n').flatMap((line) => {
    const match = /^([^:]+):\s*(.*)$/.exec(line);
    return match?.[1] && match[2] !== undefined ? [[match[1].trim(), match[2].trim()] as [string, string]] : [];
  }));
}

function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

async function waitUntil(what: string, probe: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

t.test('a root overlay costs the same for a 1 GiB and a 16 GiB base', async (t) => {
  const timings = new Map<number, number[]>();
  for (const size of [1 * GiB, 16 * GiB]) {
    const base = join(dir, `base-${size}.raw`);
    await sparseFile(base, size);
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      const overlayDir = join(dir, `overlay-${size}-${i}`);
      await mkdir(overlayDir);
      const started = performance.now();
      const overlay = await createQemuRootDisk(base, overlayDir);
      samples.push(performance.now() - started);
      if (i === 0) {
        const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', overlay], { encoding: 'utf8' })) as Record<string, unknown>;
        t.equal(info['virtual-size'], size, 'the overlay has the base size');
        t.equal(info['backing-filename'], base, 'the backing file is recorded with its absolute path');
        t.equal(info['backing-filename-format'], 'raw');
        t.ok(statSync(overlay).blocks * 512 < MiB, 'the overlay allocates almost nothing');
      }
      await rm(overlayDir, { recursive: true });
    }
    timings.set(size, samples);
    await rm(base);
  }
  const small = median(timings.get(1 * GiB) ?? []);
  const large = median(timings.get(16 * GiB) ?? []);
  t.comment(`createQemuRootDisk median: 1 GiB ${small.toFixed(1)} ms, 16 GiB ${large.toFixed(1)} ms`);
  t.ok(small < 100, `1 GiB under 100 ms (${small.toFixed(1)} ms)`);
  t.ok(large < 100, `16 GiB under 100 ms (${large.toFixed(1)} ms)`);
  t.ok(Math.max(small, large) / Math.min(small, large) < 3, 'the same order of time');
});

t.test('a work disk grows from the seed and refuses to shrink', async (t) => {
  const target = join(dir, 'work-grown.ext4');
  const started = Date.now();
  await createWorkDisk(workSeed, target, 256 * MiB);
  t.comment(`createWorkDisk 64 → 256 MiB in ${Date.now() - started} ms`);
  t.equal(statSync(target).size, 256 * MiB, 'file size');
  const header = dumpe2fsHeader(target);
  t.equal(Number(header.get('Block count')) * Number(header.get('Block size')), 256 * MiB, 'the filesystem fills the disk');
  t.equal(header.get('Filesystem volume name'), 'banger-work', 'label kept');
  const seedHeader = dumpe2fsHeader(workSeed);
  t.equal(Number(seedHeader.get('Block count')) * Number(seedHeader.get('Block size')), 64 * MiB, 'the seed is untouched');
  const key = execFileSync('debugfs', ['-R', 'cat /.ssh/authorized_keys', target], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  t.equal(key, authorizedKey, 'the seed content is on the work disk');
  t.ok(statSync(target).blocks * 512 < 32 * MiB, 'still sparse');

  const same = join(dir, 'work-same.ext4');
  await createWorkDisk(workSeed, same, 64 * MiB);
  t.equal(statSync(same).size, 64 * MiB, 'the seed size is allowed');

  const shrunk = join(dir, 'work-shrunk.ext4');
  const error = await createWorkDisk(workSeed, shrunk, 32 * MiB).catch((e: unknown) => e);
  t.ok(error instanceof DiskSizeError, String(error));
  t.match((error as Error).message, /smaller than the image's work seed/);
  t.notOk(existsSync(shrunk), 'nothing left behind');
  await rm(target);
  await rm(same);
});

t.test('QEMU VMs: launch, stop, relaunch from the same disks, kill', async (t) => {
  const driver = new QemuDriver();
  const accel = await driver.accel();
  const vmDir = join(dir, 'vm');
  await mkdir(vmDir);
  const rootDisk = await driver.prepareRootDisk(rootfs, vmDir);
  t.equal(rootDisk, driver.rootDiskPath(vmDir));
  const workDisk = join(vmDir, 'work.ext4');
  await createWorkDisk(workSeed, workDisk, 128 * MiB);
  const probePort = await freePort();
  const spec: LaunchSpec = {
    vmDir,
    kernel: kernel.kernelPath,
    initrd,
    rootDisk,
    workDisk,
    cpus: 1,
    memoryMiB: 256,
    portForwards: [{ hostPort: probePort, guestPort: BUSYBOX_PROBE_PORT }],
  };

  const overlayBytesBefore = statSync(rootDisk).size;
  const baseModified = statSync(rootfs).mtimeMs;

  const boot = async (what: string): Promise<VmProcess> => {
    const started = Date.now();
    let spawned: VmProcess | undefined;
    const running = await driver.launch(spec, {
      onSpawn: (vm) => {
        spawned = vm;
        launched.push(vm);
      },
    });
    t.same(running.process, spawned, 'onSpawn saw the identity before launch returned');
    let firstConsole: number | undefined;
    try {
      const health = await waitForGuestAgent(driver, running.process, { timeoutMs: AGENT_TIMEOUT_MS, onConsoleOutput: () => (firstConsole = Date.now() - started) });
      t.comment(`${what} (${accel}): QMP up after ${running.launchMs} ms, console at ${firstConsole} ms, agent at ${Date.now() - started} ms (guest uptime ${health.uptimeSeconds} s)`);
      t.equal(health.hostname, 'banger');
    } catch (error) {
      const kind = error instanceof BootFailureError ? error.kind : 'error';
      t.fail(`${what}: ${kind}: ${(error as Error).message}\n--- console ---\n${lastLines(await readLogTail(running.process.consoleLog), 40)}`);
      throw error;
    }
    return running.process;
  };

  // Stored and read back the way the daemon keeps it: only the JSON survives.
  const vm = JSON.parse(JSON.stringify(await boot('first boot'))) as VmProcess;
  t.equal(vm.hypervisor, 'qemu');
  t.equal(vm.accel, accel);
  const stat = readProcStat(vm.pid);
  t.equal(stat?.session, vm.pid, 'QEMU leads its own session, so it outlives the daemon');
  t.not(stat?.processGroup, readProcStat(process.pid)?.processGroup, 'not in the test process group');
  t.equal(readFileSync(join(vmDir, 'qemu.pid'), 'utf8').trim(), String(vm.pid), 'QEMU wrote its pid file');
  t.same(await withQmp(vm.controlSocket, (client) => client.execute('query-status')), { status: 'running', singlestep: false, running: true }, 'query-status');

  const probe = await fetch(`http://127.0.0.1:${probePort}/`, { signal: AbortSignal.timeout(10_000) }).catch((error: unknown) => error);
  t.ok(probe instanceof Response && probe.ok, 'the forwarded port reaches the guest service');
  if (probe instanceof Response) await probe.text();

  // Another VM can get an overlay of the same base while this one runs from it.
  const secondDir = join(dir, 'second');
  await mkdir(secondDir);
  await driver.prepareRootDisk(rootfs, secondDir);
  await rm(secondDir, { recursive: true });

  const stopStarted = Date.now();
  const outcome = await driver.stop(vm, { graceMs: STOP_GRACE_MS });
  t.comment(`stop (grace ${STOP_GRACE_MS} ms) ended with '${outcome}' after ${Date.now() - stopStarted} ms`);
  t.ok(outcome === 'powered-off' || outcome === 'quit', `a graceful path worked: ${outcome}`);
  t.notOk(driver.isRunning(vm), 'not running');
  t.notOk(existsSync(`/proc/${vm.pid}`) && readProcStat(vm.pid)?.state !== 'Z', 'the process is gone');
  t.notOk(await canConnect(vm.controlSocket), 'the QMP socket accepts nothing');
  t.notOk(await canConnect(vm.agentSocket), 'the agent socket accepts nothing');
  t.equal(await driver.stop(vm, { graceMs: STOP_GRACE_MS }), 'already-gone', 'stopping again is harmless');
  // Mounting the root filesystem writes its superblock: that write must land in the overlay.
  t.ok(statSync(rootDisk).size > overlayBytesBefore, 'the guest wrote into its overlay, which persists');
  t.equal(statSync(rootfs).mtimeMs, baseModified, 'the base image is never written');

  const again = await boot('second boot from the same disks');
  t.not(again.pid, vm.pid);
  process.kill(again.pid, 'SIGKILL');
  await waitUntil('isRunning to turn false', () => !driver.isRunning(again), 10_000);
  t.pass('after kill -9, isRunning is false');
  t.equal(await driver.stop(again, { graceMs: STOP_GRACE_MS }), 'already-gone');
  t.notOk(existsSync(again.controlSocket), 'stop tidies the sockets a killed QEMU leaves');
});

t.test('failures are classified', async (t) => {
  const driver = new QemuDriver();
  const vmDir = join(dir, 'broken');
  await mkdir(vmDir);
  const rootDisk = await driver.prepareRootDisk(rootfs, vmDir);
  const workDisk = join(vmDir, 'work.ext4');
  await createWorkDisk(workSeed, workDisk, 64 * MiB);
  const spec: LaunchSpec = { vmDir, kernel: kernel.kernelPath, initrd, rootDisk, workDisk, cpus: 1, memoryMiB: 256, portForwards: [] };

  const missingDisk = await driver.launch({ ...spec, workDisk: join(vmDir, 'missing.ext4') }).catch((error: unknown) => error);
  t.ok(missingDisk instanceof LaunchError, String(missingDisk));
  t.match((missingDisk as LaunchError).message, /exited during start: .*missing\.ext4/);
  t.match((missingDisk as LaunchError).stderrTail, /missing\.ext4/);

  // A host port another program listens on: the driver names it without QEMU's words.
  const blocker = createServer().listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  const takenPort = (blocker.address() as AddressInfo).port;
  const conflict = await driver
    .launch({ ...spec, portForwards: [{ hostPort: takenPort, guestPort: BUSYBOX_PROBE_PORT }] }, { onSpawn: (vm) => launched.push(vm) })
    .catch((error: unknown) => error);
  blocker.close();
  t.ok(conflict instanceof PortConflictError, String(conflict));
  t.same((conflict as PortConflictError).hostPorts, [takenPort], 'the taken host port is named');
  t.notOk(driver.isRunning(launched.at(-1) as VmProcess), 'nothing left running after a port conflict');

  const noBinary = await new QemuDriver({ binary: 'banger-no-such-qemu' }).launch(spec).catch((error: unknown) => error);
  t.ok(noBinary instanceof LaunchError, String(noBinary));
  t.match((noBinary as Error).message, /banger-no-such-qemu: command not found/);

  const refused = await driver
    .launch(spec, {
      onSpawn: (vm) => {
        launched.push(vm);
        throw new Error('the database is gone');
      },
    })
    .catch((error: unknown) => error);
  t.match((refused as Error).message, /the database is gone/, 'a failing onSpawn aborts the launch');
  const refusedVm = launched.at(-1) as VmProcess;
  t.notOk(driver.isRunning(refusedVm), '... and leaves nothing running');

  // No initramfs init: the kernel tries root= itself without the virtio modules and panics.
  const running = await driver.launch({ ...spec, kernelArgs: ['rdinit=/banger-missing'] }, { onSpawn: (vm) => launched.push(vm) });
  const started = Date.now();
  const panic = await waitForGuestAgent(driver, running.process, { timeoutMs: AGENT_TIMEOUT_MS }).catch((error: unknown) => error);
  t.ok(panic instanceof BootFailureError && panic.kind === 'kernel_panic', `${String(panic)} after ${Date.now() - started} ms`);
  await waitUntil('QEMU to exit after the panic', () => !driver.isRunning(running.process), 30_000);
  t.equal(await driver.stop(running.process, { graceMs: 0 }), 'already-gone', 'panic=-1 and -no-reboot ended QEMU');
});

t.test('kill and stray sweep go by process identity', async (t) => {
  const driver = new QemuDriver();
  const vmDir = join(dir, 'strays');
  await mkdir(vmDir);
  // A process naming a path in the VM dir, as a hypervisor whose pid was never recorded would.
  const log = join(vmDir, 'stray.log');
  const stray = await spawnDetached('sh', ['-c', 'sleep 300', join(vmDir, 'disk.img')], { cwd: vmDir, stdoutPath: log, stderrPath: log });
  const other = await spawnDetached('sleep', ['300'], { cwd: dir, stdoutPath: join(dir, 'other.log'), stderrPath: join(dir, 'other.log') });
  t.teardown(() => killProcessGroup(other.pid, other.startTime, 'SIGKILL'));
  t.equal(await driver.killStrays(vmDir), 1, 'one stray named the VM dir');
  t.equal(readProcStat(stray.pid)?.startTime === stray.startTime && readProcStat(stray.pid)?.state !== 'Z', false, 'the stray is gone');
  t.ok(readProcStat(other.pid), 'a process outside the VM dir is untouched');

  const fake: VmProcess = { hypervisor: 'qemu', pid: other.pid, startTime: `${other.startTime}9`, accel: 'tcg', controlSocket: join(vmDir, 'q'), agentSocket: join(vmDir, 'a'), consoleLog: join(vmDir, 'c'), stderrLog: join(vmDir, 'e') };
  await driver.kill(fake).catch(() => undefined);
  t.ok(readProcStat(other.pid), 'kill with a start time that does not match signals nothing');
  await driver.kill({ ...fake, startTime: other.startTime });
  t.notOk(driver.isRunning({ ...fake, startTime: other.startTime }), 'kill with the right identity ends it');
});
