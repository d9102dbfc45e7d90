import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queryAgent } from '../../server/guest/agent-protocol.js';
import { kvmUsable } from '../../server/host/kvm.js';
import { qemuBootArgs, type HostForward } from '../../server/hypervisor/qemu/boot-args.js';
import { unixSocketTransport } from '../../server/hypervisor/unix-socket-transport.js';
import { run, RunError, type RunResult } from '../../server/host/runner.js';

/** Kernel downloads and other slow inputs are kept between test runs here. */
export const testCacheRoot = process.env.BANGER_TEST_CACHE ?? join(tmpdir(), 'banger-test-cache');

interface Teardownable {
  teardown(fn: () => unknown): void;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function tailOf(path: string, lines: number): string {
  if (!existsSync(path)) return '(no console log)';
  return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
}

export interface BootedGuest {
  consoleLog: string;
  agentSocket: string;
  accel: 'kvm' | 'tcg';
  pid: number | undefined;
  /** Waits for the agent's health answer; the error carries the console's last lines. */
  waitForAgent(timeoutMs: number): Promise<Awaited<ReturnType<typeof queryAgent<'health'>>>>;
  stop(): Promise<void>;
}

export interface BootOptions {
  kernel: string;
  initrd: string;
  /** A raw image: the guest writes to a qcow2 overlay over it, never to it. */
  rootfs: string;
  /** Also an overlay, so the image's work seed stays as built. */
  workSeed?: string;
  hostForwards?: HostForward[];
  memoryMiB?: number;
  cpus?: number;
}

/** Boots an image with a plain qemu-system-x86_64 command (KVM when usable, else TCG). */
export async function bootGuest(t: Teardownable, options: BootOptions): Promise<BootedGuest> {
  const dir = await mkdtemp(join(tmpdir(), 'banger-guest-'));
  const overlay = join(dir, 'root.qcow2');
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', options.rootfs, overlay]);
  let workDisk: string | undefined;
  if (options.workSeed) {
    workDisk = join(dir, 'work.qcow2');
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', options.workSeed, workDisk]);
  }
  const agentSocket = join(dir, 'agent.sock');
  const consoleLog = join(dir, 'console.log');
  const accel = (await kvmUsable()) ? 'kvm' : 'tcg';
  const args = qemuBootArgs({
    kernel: options.kernel,
    initrd: options.initrd,
    rootfs: overlay,
    workDisk,
    memoryMiB: options.memoryMiB ?? 256,
    cpus: options.cpus ?? 1,
    agentSocket,
    consoleLog,
    accel,
    hostForwards: options.hostForwards ?? [],
  });
  const stopQemu = new AbortController();
  const exited = new AbortController();
  let pid: number | undefined;
  const running: Promise<RunResult | RunError> = run('qemu-system-x86_64', args, {
    signal: stopQemu.signal,
    timeoutMs: 30 * 60 * 1000,
    onSpawn: (spawned) => {
      pid = spawned;
    },
  }).catch((error: unknown) => {
    if (error instanceof RunError) return error;
    throw error;
  });
  void running.then(() => exited.abort());

  const stop = async () => {
    stopQemu.abort();
    await running;
    await rm(dir, { recursive: true, force: true });
  };
  t.teardown(stop);

  return {
    consoleLog,
    agentSocket,
    accel,
    get pid() {
      return pid;
    },
    async waitForAgent(timeoutMs) {
      try {
        return await queryAgent(unixSocketTransport(agentSocket), { command: 'health', timeoutMs, signal: exited.signal });
      } catch (error) {
        const outcome = await Promise.race([running, new Promise<null>((resolve) => setTimeout(() => resolve(null), 10))]);
        const state = outcome === null ? 'QEMU still running' : outcome instanceof RunError ? `QEMU ended: ${outcome.message}` : 'QEMU exited';
        throw new Error(
          `the guest agent did not answer within ${timeoutMs} ms (${error instanceof Error ? error.message : String(error)}; ${state})\n` +
            `--- last 40 console lines ---\n${tailOf(consoleLog, 40)}`,
        );
      }
    },
    stop,
  };
}
