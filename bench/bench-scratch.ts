import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBenchDaemon, type BenchDaemon, type BenchDaemonOptions } from './bench-daemon.js';

/** A bench's temporary dir and the daemon on its state dir (work/state). */
export interface BenchScratch {
  work: string;
  stateDir: string;
  /** Aborted on SIGINT or SIGTERM, before the clean-up, so that a bench's loops stop asking. */
  interrupted: AbortSignal;
  startDaemon(env?: Record<string, string>, options?: BenchDaemonOptions): Promise<BenchDaemon>;
  /** Stops the daemon and its guests and removes the dir; also run on SIGINT and SIGTERM. */
  cleanUp(): Promise<void>;
}

export async function benchScratch(prefix: string): Promise<BenchScratch> {
  const work = await mkdtemp(join(tmpdir(), prefix));
  const stateDir = join(work, 'state');
  let daemon: BenchDaemon | undefined;
  const interruption = new AbortController();
  const cleanUp = async (): Promise<void> => {
    await daemon?.stop();
    await rm(work, { recursive: true, force: true });
  };
  // Guests outlive the daemon by design, so an interrupted bench must still reap them.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => {
      interruption.abort();
      void cleanUp().finally(() => process.exit(130));
    });
  return {
    work,
    stateDir,
    interrupted: interruption.signal,
    startDaemon: async (env, options) => (daemon = await startBenchDaemon(stateDir, env, options)),
    cleanUp,
  };
}
