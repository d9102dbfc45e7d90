import { readFile } from 'node:fs/promises';
import { run } from './runner.js';

/** The host's static busybox, the one program both the initramfs and the busybox image are built from. */

export const DEFAULT_BUSYBOX_PATH = '/bin/busybox';

/** True when an ELF executable has no PT_INTERP, i.e. needs no dynamic loader. */
export function isStaticElf(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46) throw new Error('not an ELF file');
  if (elf[4] !== 2 || elf[5] !== 1) throw new Error('not a 64-bit little-endian ELF file');
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  const PT_INTERP = 3;
  for (let index = 0; index < phnum; index++) {
    const at = phoff + index * phentsize;
    if (at + 4 > elf.length) throw new Error('ELF program headers out of bounds');
    if (elf.readUInt32LE(at) === PT_INTERP) return false;
  }
  return true;
}

/** Reads busybox and checks it can run without a libc in the guest. */
export async function readStaticBusybox(path: string): Promise<Buffer> {
  const binary = await readFile(path);
  let ok: boolean;
  try {
    ok = isStaticElf(binary);
  } catch (error) {
    throw new Error(`${path} is not a usable busybox: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!ok) throw new Error(`${path} is dynamically linked; install a static busybox (Debian: busybox-static)`);
  return binary;
}

/**
 * Applet paths (`bin/sh`, `sbin/insmod`, …) as the binary itself lists them, so the
 * links match whatever applets this busybox build has.
 */
export async function busyboxApplets(busyboxPath: string, options: { signal?: AbortSignal } = {}): Promise<string[]> {
  const result = await run(busyboxPath, ['--list-full'], { timeoutMs: 30_000, signal: options.signal });
  return result.stdout
    .split('\n')
    .map((line) => line.trim().replace(/^\/+/, ''))
    .filter((line) => line !== '' && !line.split('/').includes('..'));
}
