/**
 * What QEMU's TCG translation cache costs in memory, and what a smaller one (-accel tcg,tb-size=N)
 * costs in boot time. For each setting, round by round in a rotating order so every setting
 * meets the same host load, it boots the same image with a plain qemu-system-x86_64 (banger's
 * own command line, qemuBootArgs, with only the -accel value replaced), waits until the guest is
 * ready (the agent answers with an address, then the image's service sends its first byte:
 * busybox httpd on 8080, Debian's sshd banner on 22), waits --settle-s more and reads the
 * process's smaps. A size may end in /arenaN: that boot runs with MALLOC_ARENA_MAX=N in QEMU's
 * environment (glibc's malloc arenas: by default up to 8 per core, a thread that allocates while
 * the others hold theirs gets a new one), the rest without it.
 *
 *   npx tsx bench/tcg-memory.ts [--recipe busybox|debian-bookworm] [--rounds 3] [--memory 1024] [--cpus 2]
 *                               [--sizes default,256,128,96,64,32,96/arena1] [--settle-s 5] [--ready-timeout-s 300]
 *                               [--max-others 10] [--attempts 3] [--quiet-wait-s 60] [--state-dir DIR]
 *
 * Other people's work on the host stretches boot times far more than the cache size does, so each
 * boot waits (up to --quiet-wait-s) for the host to go idle first, and a boot during which other
 * processes used more than --max-others % of the host's CPU is repeated, up to --attempts times
 * in all; the last attempt counts.
 */
import { randomInt } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { resolveConfig } from '../server/config.js';
import { openDaemon, stopBackgroundWork } from '../server/daemon.js';
import { finishedJobStatuses } from '../server/domain/job.js';
import { queryAgent } from '../server/guest/agent-protocol.js';
import { createWorkDisk } from '../server/host/disks.js';
import { sumMappings } from '../server/host/proc-memory.js';
import { processStartTime, run, RunError } from '../server/host/runner.js';
import { killProcessesUsing } from '../server/host/strays.js';
import { lastLines, readLogTail } from '../server/hypervisor/log-tail.js';
import { qemuBootArgs } from '../server/hypervisor/qemu/boot-args.js';
import { qemuMemoryBreakdown } from '../server/hypervisor/qemu/memory-usage.js';
import { withQmp } from '../server/hypervisor/qemu/qmp-client.js';
import { createQemuRootDisk } from '../server/hypervisor/qemu/root-disk.js';
import { unixSocketTransport } from '../server/hypervisor/unix-socket-transport.js';
import { hostPortFree } from '../server/services/vms/port-probe.js';
import { benchKernelCache } from './busybox-image.js';

const MiB = 1024 * 1024;

const { values: flags } = parseArgs({
  options: {
    recipe: { type: 'string', default: 'busybox' },
    rounds: { type: 'string', default: '3' },
    memory: { type: 'string', default: '1024' },
    cpus: { type: 'string', default: '2' },
    sizes: { type: 'string', default: 'default,256,128,96,64,32' },
    'settle-s': { type: 'string', default: '5' },
    'ready-timeout-s': { type: 'string', default: '300' },
    'max-others': { type: 'string', default: '10' },
    attempts: { type: 'string', default: '3' },
    'quiet-wait-s': { type: 'string', default: '60' },
    // Kept between runs, so a Debian image is built once; default: a temporary dir, removed.
    'state-dir': { type: 'string' },
  },
});

function wholeNumber(name: string, text: string | undefined, minimum: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < minimum) throw new Error(`--${name} must be an integer ≥ ${minimum}: ${text}`);
  return value;
}

if (flags.recipe !== 'busybox' && flags.recipe !== 'debian-bookworm') throw new Error(`--recipe must be busybox or debian-bookworm: ${flags.recipe}`);
const recipe: 'busybox' | 'debian-bookworm' = flags.recipe;
const rounds = wholeNumber('rounds', flags.rounds, 1);
const memoryMiB = wholeNumber('memory', flags.memory, 64);
const cpus = wholeNumber('cpus', flags.cpus, 1);
const settleMs = wholeNumber('settle-s', flags['settle-s'], 0) * 1000;
const readyTimeoutMs = wholeNumber('ready-timeout-s', flags['ready-timeout-s'], 1) * 1000;
const maxOthersShare = wholeNumber('max-others', flags['max-others'], 0) / 100;
const attempts = wholeNumber('attempts', flags.attempts, 1);
const quietWaitMs = wholeNumber('quiet-wait-s', flags['quiet-wait-s'], 0) * 1000;
interface Setting {
  /** tb-size in MiB; null is QEMU's own default (1 GiB in 7.2). */
  tbSizeMiB: number | null;
  /** MALLOC_ARENA_MAX for QEMU; null leaves banger's QEMU environment as it is. */
  arenas: number | null;
}
const settings: Setting[] = (flags.sizes ?? '').split(',').map((spec) => {
  const [size, arena, ...rest] = spec.split('/');
  if (rest.length > 0 || (arena !== undefined && !/^arena\d+$/.test(arena))) throw new Error(`--sizes: ${spec} is not SIZE or SIZE/arenaN`);
  return {
    tbSizeMiB: size === 'default' ? null : wholeNumber('sizes', size, 1),
    arenas: arena === undefined ? null : wholeNumber('sizes', arena.slice('arena'.length), 1),
  };
});
const { MALLOC_ARENA_MAX: _inherited, ...withoutArenaLimit } = process.env;
const reference = settings.find((setting) => setting.tbSizeMiB === null && setting.arenas === null);
if (!reference) throw new Error('--sizes must include default: the boot times are compared with it');
const service = recipe === 'busybox' ? { port: 8080, name: 'httpd', request: 'GET / HTTP/1.0\r\n\r\n' } : { port: 22, name: 'sshd', request: '' };

const label = (setting: Setting): string => `${setting.tbSizeMiB === null ? 'default' : `${setting.tbSizeMiB} MiB`}${setting.arenas === null ? '' : ` a${setting.arenas}`}`;
const mib = (bytes: number): string => (bytes / MiB).toFixed(0);
const seconds = (ms: number): string => (ms / 1000).toFixed(2);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = (sorted.length - 1) / 2;
  return ((sorted[Math.floor(middle)] as number) + (sorted[Math.ceil(middle)] as number)) / 2;
};

/**
 * banger's command line with the translation cache size set (or left to QEMU), whatever else
 * its -accel tcg value says, so the settings differ in that alone.
 */
function withTbSize(args: string[], setting: number | null): string[] {
  const index = args.findIndex((arg, i) => arg === '-accel' && args[i + 1]?.split(',')[0] === 'tcg');
  if (index < 0) throw new Error(`qemuBootArgs produced no -accel tcg: ${args.join(' ')}`);
  const options = (args[index + 1] as string).split(',').filter((option) => !option.startsWith('tb-size='));
  if (setting !== null) options.push(`tb-size=${setting}`);
  const changed = [...args];
  changed[index + 1] = options.join(',');
  return changed;
}

interface ImageFiles {
  kernel: string;
  initrd: string;
  rootfs: string;
  workSeed: string;
}

/** The image as a create would get it: built by the daemon's own image service, in this process. */
async function daemonImage(stateDir: string): Promise<ImageFiles> {
  const config = resolveConfig({ stateDir }, { ...process.env, BANGER_KERNEL_CACHE: benchKernelCache });
  const daemon = await openDaemon(config, pino({ level: 'warn' }));
  const { images, jobs } = daemon.services;
  const name = `bench-${recipe}`;
  try {
    if (images.list(1000).every((image) => image.name !== name)) {
      let job = await images.build({ name, recipe }, 'unix-socket');
      const deadline = Date.now() + 20 * 60_000;
      while (!finishedJobStatuses.includes(job.status) && Date.now() < deadline) job = await jobs.wait(job.id, 30);
      if (job.status !== 'succeeded') throw new Error(`image build ${job.status}: ${job.error?.detail ?? 'took more than 20 minutes'}`);
    }
    const image = images.get(name);
    if (!image.initrdPath || !image.workSeedPath) throw new Error(`the ${recipe} image lacks an initrd or work seed`);
    return { kernel: image.kernelPath, initrd: image.initrdPath, rootfs: image.rootfsPath, workSeed: image.workSeedPath };
  } finally {
    await stopBackgroundWork(daemon);
    daemon.database.close();
  }
}

async function freeHostPort(): Promise<number> {
  for (;;) {
    const port = randomInt(40_000, 60_000);
    if (await hostPortFree(port)) return port;
  }
}

/**
 * Whether the guest service behind a forward has sent its first byte. A forward accepts on the
 * host whether or not the guest listens, so only data counts: the SSH banner, or httpd's answer.
 */
function serviceAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const finish = (answered: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answered);
    };
    const timer = setTimeout(() => finish(false), 3000);
    socket.once('connect', () => socket.write(service.request));
    socket.once('data', () => finish(true));
    socket.once('close', () => finish(false));
    socket.once('error', () => finish(false));
  });
}

async function waitReady(agentSocket: string, hostPort: number, signal: AbortSignal): Promise<void> {
  for (;;) {
    const health = await queryAgent(unixSocketTransport(agentSocket), { command: 'health', timeoutMs: readyTimeoutMs, signal });
    if (health.addresses.length > 0) break;
    await sleep(100);
  }
  while (!(await serviceAnswers(hostPort))) {
    signal.throwIfAborted();
    await sleep(100);
  }
}

/**
 * CPU seconds (user + system, all threads) the process has used: the work QEMU did to boot
 * (translating and running guest code, translating again after a cache flush). It spreads less
 * than wall-clock time when others load the host, though not zero: a guest vCPU whose thread is
 * preempted keeps the other one spinning.
 */
async function cpuSeconds(pid: number, startTime: string, ticksPerSecond: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // After comm: field 3 (state) is [0], utime (14) [11], stime (15) [12], starttime (22) [19].
  const fields = stat.slice(stat.lastIndexOf(')') + 1).trim().split(/\s+/);
  if (fields[19] !== startTime) throw new Error(`process ${pid} is not the QEMU started at ${startTime}`);
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** Busy and all CPU time of the whole host so far, in clock ticks (/proc/stat's first line). */
async function hostTicks(): Promise<{ busy: number; total: number }> {
  const [, ...values] = ((await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '').trim().split(/\s+/);
  // user nice system idle iowait irq softirq steal; guest time is already inside user.
  const ticks = values.slice(0, 8).map(Number);
  const total = ticks.reduce((sum, value) => sum + value, 0);
  return { busy: total - (ticks[3] ?? 0) - (ticks[4] ?? 0), total };
}

/** Whether the host was below 10 % busy for 3 s in a row before quietWaitMs ran out. */
async function waitForQuietHost(): Promise<boolean> {
  const deadline = Date.now() + quietWaitMs;
  let quietSeconds = 0;
  let last = await hostTicks();
  while (quietSeconds < 3) {
    if (Date.now() >= deadline) return false;
    await sleep(1000);
    const now = await hostTicks();
    quietSeconds = (now.busy - last.busy) / Math.max(1, now.total - last.total) < 0.1 ? quietSeconds + 1 : 0;
    last = now;
  }
  return true;
}

/** How often the translation cache filled up and was thrown away (QEMU's "info jit"). */
async function cacheFlushes(qmpSocket: string): Promise<number> {
  const text = await withQmp(qmpSocket, (client) => client.execute<string>('human-monitor-command', { 'command-line': 'info jit' }));
  const match = /TB flush count\s+(\d+)/.exec(text);
  if (!match) throw new Error(`no TB flush count in QEMU's info jit: ${text.slice(0, 200)}`);
  return Number(match[1]);
}

interface Sample {
  setting: Setting;
  readyMs: number;
  /** QEMU's CPU time when the guest was ready. */
  readyCpuS: number;
  rssBytes: number;
  guestRamRssBytes: number;
  pssBytes: number;
  /** The translation cache: QEMU's only anonymous rwx mappings. */
  tcgRssBytes: number;
  /**
   * Mapped files (QEMU's binary and libraries): page cache that every QEMU on the host shares,
   * so a further VM does not add it again.
   */
  fileRssBytes: number;
  /** Cache flushes until ready: each means translating the guest's code again. */
  flushes: number;
  /** The share of the host's CPU that everything but this QEMU used from launch to ready. */
  othersShare: number;
}

const work = await mkdtemp(join(tmpdir(), 'banger-bench-tcg-'));
const stateDir = flags['state-dir'] ?? join(work, 'state');
/** Stops the QEMU being measured, if one is. */
let current: AbortController | undefined;

async function boot(image: ImageFiles, setting: Setting, dir: string, ticksPerSecond: number): Promise<Sample> {
  await mkdir(dir);
  const rootDisk = await createQemuRootDisk(image.rootfs, dir);
  const workDisk = join(dir, 'work.ext4');
  await createWorkDisk(image.workSeed, workDisk, 1024 * MiB);
  const hostPort = await freeHostPort();
  const agentSocket = join(dir, 'agent.sock');
  const consoleLog = join(dir, 'console.log');
  const qmpSocket = join(dir, 'qmp.sock');
  const args = withTbSize(
    qemuBootArgs({
      kernel: image.kernel,
      initrd: image.initrd,
      rootfs: rootDisk,
      workDisk,
      memoryMiB,
      cpus,
      agentSocket,
      consoleLog,
      qmpSocket,
      accel: 'tcg',
      hostForwards: [{ hostPort, guestPort: service.port }],
    }),
    setting.tbSizeMiB,
  );

  const stop = new AbortController();
  current = stop;
  const exited = new AbortController();
  let identity: { pid: number; startTime: string | null } | undefined;
  const hostBefore = await hostTicks();
  const started = performance.now();
  const qemu = run('qemu-system-x86_64', args, {
    env: setting.arenas === null ? withoutArenaLimit : { ...withoutArenaLimit, MALLOC_ARENA_MAX: String(setting.arenas) },
    signal: stop.signal,
    timeoutMs: readyTimeoutMs + settleMs + 60_000,
    onSpawn: (pid) => (identity = { pid, startTime: processStartTime(pid) }),
  }).then(
    () => new Error('QEMU exited by itself'),
    (error: unknown) => (error instanceof RunError && error.reason === 'aborted' ? null : error),
  );
  void qemu.then((error) => exited.abort(error));
  try {
    try {
      await waitReady(agentSocket, hostPort, AbortSignal.any([exited.signal, AbortSignal.timeout(readyTimeoutMs)]));
    } catch (error) {
      const why = exited.signal.aborted ? exited.signal.reason : error;
      throw new Error(`not ready: ${why instanceof Error ? why.message : String(why)}\n${lastLines(await readLogTail(consoleLog), 5)}`);
    }
    const readyMs = performance.now() - started;
    if (!identity?.startTime) throw new Error('QEMU exited before its start time was read');
    const readyCpuS = await cpuSeconds(identity.pid, identity.startTime, ticksPerSecond);
    const hostAfter = await hostTicks();
    const flushes = await cacheFlushes(qmpSocket);
    // The process's and the host's counters are kept apart, so an idle host can come out a hair below zero.
    const othersShare = Math.max(0, (hostAfter.busy - hostBefore.busy - readyCpuS * ticksPerSecond) / Math.max(1, hostAfter.total - hostBefore.total));
    await sleep(settleMs);
    const memory = await qemuMemoryBreakdown(identity.pid, identity.startTime, memoryMiB);
    const tcg = memory.mappings.filter((mapping) => mapping.perms === 'rwxp' && mapping.path === '');
    const files = memory.mappings.filter((mapping) => mapping.path.startsWith('/'));
    return {
      setting,
      readyMs,
      readyCpuS,
      rssBytes: memory.rssBytes,
      guestRamRssBytes: memory.guestRamRssBytes,
      pssBytes: memory.pssBytes,
      tcgRssBytes: sumMappings(tcg).rssBytes,
      fileRssBytes: sumMappings(files).rssBytes,
      flushes,
      othersShare,
    };
  } finally {
    stop.abort();
    await qemu;
    current = undefined;
    await rm(dir, { recursive: true, force: true });
  }
}

async function cleanUp(): Promise<void> {
  current?.abort();
  // Guests of this bench are found by the scratch dir their command lines name (pid and start time).
  await killProcessesUsing(work);
  await rm(work, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanUp().finally(() => process.exit(130)));

const samples: Sample[] = [];
const failures = new Map<Setting, number>();
try {
  console.log(`tcg-memory bench: ${recipe} image, ${cpus} vCPU, ${memoryMiB} MiB, q35, TCG; ready = agent with an address + ${service.name} on ${service.port} answering; memory read ${settleMs / 1000} s later`);
  console.log(`tb-size settings: ${settings.map(label).join(', ')}; ${rounds} rounds, order rotated each round`);
  const { stdout: version } = await run('qemu-system-x86_64', ['--version'], { timeoutMs: 10_000 });
  console.log(`host: ${availableParallelism()} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${version.split('\n')[0]}`);
  const ticksPerSecond = Number((await run('getconf', ['CLK_TCK'], { timeoutMs: 10_000 })).stdout.trim());
  const imageStarted = Date.now();
  const image = await daemonImage(stateDir);
  console.log(`image ready in ${((Date.now() - imageStarted) / 1000).toFixed(1)} s`);

  // Unmeasured: warms the page cache for the kernel, initrd and rootfs.
  await boot(image, reference, join(work, 'warm-up'), ticksPerSecond);

  console.log('');
  console.log('round  tb-size     ready s  CPU s  flushes  RSS MiB  guest RAM  overhead  TCG cache  files  PSS MiB  others %');
  for (let round = 1; round <= rounds; round++) {
    const shift = (round - 1) % settings.length;
    for (const setting of [...settings.slice(shift), ...settings.slice(0, shift)]) {
      const name = `${String(round).padStart(5)}  ${label(setting).padEnd(10)}`;
      try {
        for (let attempt = 1; ; attempt++) {
          const quiet = await waitForQuietHost();
          const sample = await boot(image, setting, join(work, `boot-${round}-${attempt}-${settings.indexOf(setting)}`), ticksPerSecond);
          const again = sample.othersShare > maxOthersShare && attempt < attempts;
          const notes = [quiet ? '' : 'host never went idle', again ? 'busy host: again' : ''].filter((note) => note !== '').join('; ');
          console.log(
            `${name} ${seconds(sample.readyMs).padStart(8)}  ${sample.readyCpuS.toFixed(1).padStart(5)}  ${String(sample.flushes).padStart(7)}  ${mib(sample.rssBytes).padStart(7)}  ${mib(sample.guestRamRssBytes).padStart(9)}  ${mib(sample.rssBytes - sample.guestRamRssBytes).padStart(8)}  ${mib(sample.tcgRssBytes).padStart(9)}  ${mib(sample.fileRssBytes).padStart(5)}  ${mib(sample.pssBytes).padStart(7)}  ${(sample.othersShare * 100).toFixed(0).padStart(8)}${notes ? `  (${notes})` : ''}`,
          );
          if (again) continue;
          samples.push(sample);
          break;
        }
      } catch (error) {
        failures.set(setting, (failures.get(setting) ?? 0) + 1);
        console.log(`${name} FAILED ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
} finally {
  await cleanUp();
}

const of = (setting: Setting): Sample[] => samples.filter((sample) => sample.setting === setting);
const medianOf = (got: Sample[], pick: (sample: Sample) => number): number => median(got.map(pick));
const referenceSamples = of(reference);
console.log('');
console.log("medians (MiB; overhead = RSS − guest RAM RSS; files: the part of it that is mapped files, shared by all QEMUs; ×default = this setting's median / the default's)");
console.log('tb-size     boots  ready s  ×default  CPU s  ×default  flushes   RSS  guest RAM  overhead  TCG cache  files   PSS');
for (const setting of settings) {
  const got = of(setting);
  const boots = `${got.length}/${got.length + (failures.get(setting) ?? 0)}`.padStart(5);
  if (got.length === 0) {
    console.log(`${label(setting).padEnd(10)}  ${boots}`);
    continue;
  }
  const ready = medianOf(got, (sample) => sample.readyMs);
  const cpu = medianOf(got, (sample) => sample.readyCpuS);
  const vsDefault = (value: number, pick: (sample: Sample) => number): string => (referenceSamples.length === 0 ? '-' : (value / medianOf(referenceSamples, pick)).toFixed(3));
  const memory = [
    mib(medianOf(got, (sample) => sample.rssBytes)).padStart(4),
    mib(medianOf(got, (sample) => sample.guestRamRssBytes)).padStart(9),
    mib(medianOf(got, (sample) => sample.rssBytes - sample.guestRamRssBytes)).padStart(8),
    mib(medianOf(got, (sample) => sample.tcgRssBytes)).padStart(9),
    mib(medianOf(got, (sample) => sample.fileRssBytes)).padStart(5),
    mib(medianOf(got, (sample) => sample.pssBytes)).padStart(4),
  ];
  console.log(
    `${label(setting).padEnd(10)}  ${boots}  ${seconds(ready).padStart(7)}  ${vsDefault(ready, (sample) => sample.readyMs).padStart(8)}  ${cpu.toFixed(1).padStart(5)}  ${vsDefault(cpu, (sample) => sample.readyCpuS).padStart(8)}  ${String(medianOf(got, (sample) => sample.flushes)).padStart(7)}  ${memory.join('  ')}`,
  );
}
process.exitCode = failures.size > 0 ? 1 : 0;
