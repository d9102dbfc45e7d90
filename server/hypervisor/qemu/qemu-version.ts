import { run } from '../../host/runner.js';

const VERSION_TIMEOUT_MS = 10_000;

/**
 * The first line of `qemu-system-x86_64 --version`, e.g. "QEMU emulator version 7.2.22
 * (Debian 1:7.2+dfsg-7+deb12u18+b3)". A saved state loads reliably only into the build that
 * wrote it, so snapshots record the whole line, distribution revision included.
 */
export async function qemuBinaryVersion(binary: string): Promise<string> {
  const { stdout } = await run(binary, ['--version'], { timeoutMs: VERSION_TIMEOUT_MS });
  const line = stdout.split('\n')[0]?.trim() ?? '';
  if (!/version/i.test(line)) throw new Error(`${binary} --version printed no version: ${JSON.stringify(stdout.slice(0, 200))}`);
  return line;
}
