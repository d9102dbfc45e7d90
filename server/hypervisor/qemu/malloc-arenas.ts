import { parseTuningSetting, tuningValue, type TuningSetting } from './tuning-setting.js';

/**
 * How many malloc arenas glibc may give a QEMU process (MALLOC_ARENA_MAX in its environment).
 * By default glibc hands a thread that allocates while the others hold theirs an arena of its
 * own, up to eight per core; QEMU's vCPU, I/O and RCU threads each keep one, and memory freed
 * into one arena is never reused by another. Measured here (bench/tcg-memory.ts; Debian, 1024 MiB,
 * 2 vCPUs, boot to sshd): one arena keeps ~7 MiB less per VM (173 → 166 MiB overhead at tb-size
 * 96, medians of three), with boot times inside the spread of the runs.
 */
export const DEFAULT_MALLOC_ARENAS = 1;

export type MallocArenaSetting = TuningSetting;

export function parseMallocArenaSetting(text: string | undefined): MallocArenaSetting {
  return parseTuningSetting('BANGER_QEMU_MALLOC_ARENA_MAX', text, { max: 64, what: 'a count' });
}

/** QEMU's environment: the daemon's, with MALLOC_ARENA_MAX as the setting says. */
export function qemuEnvironment(setting: MallocArenaSetting, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const { MALLOC_ARENA_MAX: _inherited, ...rest } = base;
  const arenas = tuningValue(setting, DEFAULT_MALLOC_ARENAS);
  return arenas === undefined ? rest : { ...rest, MALLOC_ARENA_MAX: String(arenas) };
}
