import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createClient, type BangerClient } from '../client/index.js';
import { killProcessesUsing } from '../server/host/strays.js';
import { benchKernelCache } from './busybox-image.js';

const repoRoot = join(import.meta.dirname, '..');
const bangerBin = join(repoRoot, 'dist', 'bin', 'banger.js');

export interface BenchDaemon {
  client: BangerClient;
  stateDir: string;
  /** The daemon's own process. */
  pid: number;
  /** SIGTERM, then every guest the bench left (guests outlive the daemon by design). */
  stop(): Promise<void>;
}

export interface BenchDaemonOptions {
  /** Given to node before the script (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** Another build's bin/banger.js, to compare two builds in one run; this tree's dist/ by default. */
  bin?: string;
}

/** The built daemon on a state dir of the bench's, answering on its unix socket. */
export async function startBenchDaemon(stateDir: string, env: Record<string, string> = {}, options: BenchDaemonOptions = {}): Promise<BenchDaemon> {
  const bin = options.bin ?? bangerBin;
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run npm run build first`);
  await mkdir(stateDir, { recursive: true });
  const daemon: ChildProcess = spawn(process.execPath, [...(options.nodeArgs ?? []), bin, 'serve', '--state-dir', stateDir], {
    env: { ...process.env, BANGER_KERNEL_CACHE: benchKernelCache, BANGER_LOG_LEVEL: 'warn', BANGER_VM_STOP_GRACE_SECONDS: '0', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const client = createClient({ socketPath: join(stateDir, 'banger.sock') });
  const stop = async (): Promise<void> => {
    if (daemon.exitCode === null) {
      daemon.kill('SIGTERM');
      await new Promise((resolve) => daemon.once('exit', resolve));
    }
    await killProcessesUsing(stateDir);
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await client.health();
      return { client, stateDir, pid: daemon.pid as number, stop };
    } catch (error) {
      if (Date.now() > deadline || daemon.exitCode !== null) {
        await stop();
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

export const median = (values: number[]): number => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = (sorted.length - 1) / 2;
  return ((sorted[Math.floor(middle)] as number) + (sorted[Math.ceil(middle)] as number)) / 2;
};

export const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
