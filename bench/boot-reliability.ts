/**
 * Boots the busybox image N times in a row through the QEMU driver while a busy
 * loop keeps another core loaded, and reports each boot's launch→agent time and
 * every failure with its class. The question it answers: does the chosen machine
 * type and command line boot every time on a busy host?
 *
 *   npx tsx bench/boot-reliability.ts [--boots 20] [--cpus 1] [--memory 256]
 *                                     [--grace-ms 0] [--agent-timeout-s 120] [--no-load]
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createWorkDisk } from '../server/host/disks.js';
import { killProcessGroup } from '../server/host/runner.js';
import { BootFailureError } from '../server/hypervisor/boot-failure.js';
import { waitForGuestAgent } from '../server/hypervisor/boot-wait.js';
import { LaunchError, type StopOutcome, type VmProcess } from '../server/hypervisor/driver.js';
import { lastLines, readLogTail } from '../server/hypervisor/log-tail.js';
import { QemuDriver } from '../server/hypervisor/qemu/qemu-driver.js';
import { buildBusyboxImage } from './busybox-image.js';
import { startBusyLoop, type CpuLoad } from './cpu-load.js';

const MiB = 1024 * 1024;

const { values: flags } = parseArgs({
  options: {
    boots: { type: 'string', default: '20' },
    cpus: { type: 'string', default: '1' },
    memory: { type: 'string', default: '256' },
    // The busybox image ignores the ACPI power button, so a grace only adds its length to every stop.
    'grace-ms': { type: 'string', default: '0' },
    'agent-timeout-s': { type: 'string', default: '120' },
    'no-load': { type: 'boolean', default: false },
  },
});

function positiveInteger(name: string, text: string | undefined, allowZero = false): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < (allowZero ? 0 : 1)) throw new Error(`--${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer: ${text}`);
  return value;
}

const boots = positiveInteger('boots', flags.boots);
const cpus = positiveInteger('cpus', flags.cpus);
const memoryMiB = positiveInteger('memory', flags.memory);
const graceMs = positiveInteger('grace-ms', flags['grace-ms'], true);
const agentTimeoutMs = positiveInteger('agent-timeout-s', flags['agent-timeout-s']) * 1000;

interface BootResult {
  index: number;
  ok: boolean;
  launchMs?: number;
  consoleMs?: number;
  agentMs?: number;
  failure?: string;
  detail?: string;
  stop?: StopOutcome;
  stopMs?: number;
  load: number;
}

const seconds = (ms: number | undefined): string => (ms === undefined ? '   -  ' : `${(ms / 1000).toFixed(2).padStart(6)}`);

function qemuVersion(): string {
  try {
    return execFileSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }).split('\n')[0] ?? 'unknown';
  } catch {
    return 'qemu-system-x86_64 not found';
  }
}

function summarize(times: number[]): string {
  if (times.length === 0) return 'no successful boot';
  const sorted = [...times].sort((a, b) => a - b);
  const at = (index: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, index))] as number;
  const middle = (sorted.length - 1) / 2;
  const median = (at(Math.floor(middle)) + at(Math.ceil(middle))) / 2;
  const p90 = at(Math.ceil(0.9 * sorted.length) - 1);
  const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
  return `min ${seconds(sorted[0]).trim()} s, median ${seconds(median).trim()} s, mean ${seconds(mean).trim()} s, p90 ${seconds(p90).trim()} s, max ${seconds(sorted.at(-1)).trim()} s`;
}

const work = await mkdtemp(join(tmpdir(), 'banger-bench-'));
const driver = new QemuDriver();
let load: CpuLoad | undefined;
let current: VmProcess | undefined;

const cleanUp = async (): Promise<void> => {
  if (current) killProcessGroup(current.pid, current.startTime, 'SIGKILL');
  load?.stop();
  await rm(work, { recursive: true, force: true });
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void cleanUp().finally(() => process.exit(130));
  });
}

const results: BootResult[] = [];
try {
  const accel = await driver.accel();
  console.log(`boot reliability: ${boots} boots of the busybox image, ${cpus} vCPU, ${memoryMiB} MiB, accel ${accel}, q35`);
  console.log(`host: ${availableParallelism()} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${qemuVersion()}`);
  const imageStarted = Date.now();
  const image = await buildBusyboxImage(join(work, 'image'));
  console.log(`image built in ${((Date.now() - imageStarted) / 1000).toFixed(1)} s`);

  if (!flags['no-load']) {
    load = startBusyLoop();
    console.log(`busy loop on another core: pid ${load.pid}`);
  }
  console.log('');
  console.log(' boot  result             QMP up  console  agent   stop            load1');

  for (let index = 1; index <= boots; index++) {
    const vmDir = join(work, `vm-${index}`);
    await mkdir(vmDir);
    const rootDisk = await driver.prepareRootDisk(image.rootfs, vmDir);
    const workDisk = join(vmDir, 'work.ext4');
    await createWorkDisk(image.workSeed, workDisk, 128 * MiB);

    const result: BootResult = { index, ok: false, load: loadavg()[0] ?? 0 };
    const started = Date.now();
    try {
      const running = await driver.launch({ vmDir, kernel: image.kernel, initrd: image.initrd, rootDisk, workDisk, cpus, memoryMiB, portForwards: [] });
      current = running.process;
      result.launchMs = running.launchMs;
      await waitForGuestAgent(driver, running.process, {
        timeoutMs: agentTimeoutMs,
        onConsoleOutput: () => (result.consoleMs = Date.now() - started),
      });
      result.agentMs = Date.now() - started;
      result.ok = true;
    } catch (error) {
      if (error instanceof BootFailureError) {
        result.failure = error.kind;
        result.detail = `${error.message}\n${lastLines(error.evidence.consoleTail, 8)}`;
      } else if (error instanceof LaunchError) {
        result.failure = 'hypervisor_exited';
        result.detail = error.message;
      } else {
        result.failure = 'error';
        result.detail = error instanceof Error ? error.message : String(error);
      }
      if (current) result.detail += `\nconsole: ${lastLines(await readLogTail(current.consoleLog), 3)}`;
    } finally {
      if (current) {
        const stopStarted = Date.now();
        result.stop = await driver.stop(current, { graceMs });
        result.stopMs = Date.now() - stopStarted;
        current = undefined;
      }
      await rm(vmDir, { recursive: true, force: true });
    }
    results.push(result);
    const status = result.ok ? 'ok' : `FAIL ${result.failure}`;
    const stop = result.stop === undefined ? '-' : `${result.stop} ${seconds(result.stopMs).trim()} s`;
    console.log(
      `${String(index).padStart(2)}/${boots}  ${status.padEnd(17)} ${seconds(result.launchMs)}  ${seconds(result.consoleMs)}  ${seconds(result.agentMs)}  ${stop.padEnd(15)} ${result.load.toFixed(2)}`,
    );
    if (!result.ok) console.log(`       ${(result.detail ?? '').split('\n').join('\n       ')}`);
  }
} finally {
  await cleanUp();
}

const succeeded = results.filter((result) => result.ok);
const failures = new Map<string, number>();
for (const result of results) if (!result.ok && result.failure) failures.set(result.failure, (failures.get(result.failure) ?? 0) + 1);
console.log('');
console.log(`booted ${succeeded.length} of ${results.length}${failures.size > 0 ? `; failures: ${[...failures].map(([kind, count]) => `${kind} ×${count}`).join(', ')}` : ''}`);
console.log(`launch → agent: ${summarize(succeeded.map((result) => result.agentMs as number))}`);
console.log(`launch → first console output: ${summarize(succeeded.flatMap((result) => (result.consoleMs === undefined ? [] : [result.consoleMs])))}`);
console.log(`launch → QMP answering: ${summarize(results.flatMap((result) => (result.launchMs === undefined ? [] : [result.launchMs])))}`);
process.exitCode = succeeded.length === results.length ? 0 : 1;
