import { stat } from 'node:fs/promises';
import { run, type LogSink } from './runner.js';

export interface CopyOptions {
  signal?: AbortSignal;
  onSpawn?: (pid: number) => void;
  log?: LogSink;
}

// Multi-GiB images on slow disks; cancellation goes through the signal instead.
const COPY_TIMEOUT_MS = 60 * 60 * 1000;

/**
 * Copies a (typically sparse) disk image. cp is used rather than fs.copyFile
 * because it clones on reflink-capable filesystems and otherwise keeps holes,
 * so a mostly-empty 4 GiB image does not turn into 4 GiB of written blocks.
 * On failure or cancellation a partial target may remain; callers copying to a
 * temporary name are expected to remove it.
 */
export async function copyFilePreferClone(source: string, target: string, options: CopyOptions = {}): Promise<void> {
  await run('cp', ['--reflink=auto', '--sparse=always', '--', source, target], {
    timeoutMs: COPY_TIMEOUT_MS,
    signal: options.signal,
    onSpawn: options.onSpawn,
    log: options.log,
  });
}

/** Bytes actually allocated on disk, as opposed to the apparent size. */
export async function allocatedBytes(path: string): Promise<number> {
  const info = await stat(path);
  return info.blocks * 512;
}
