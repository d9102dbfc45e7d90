import { parseTuningSetting, tuningValue, type TuningSetting } from './tuning-setting.js';

/**
 * The size of QEMU's TCG translation cache (-accel tcg,tb-size=N, in MiB). QEMU 7.2 reserves 1 GiB
 * by default and a Debian guest fills ~360-520 MiB of it while booting, so under software
 * emulation most of a VM's host memory is translated code, not guest RAM. Measured here
 * (bench/tcg-memory.ts; Debian, 1024 MiB, 2 vCPUs, boot to sshd, clean boots of six runs pooled):
 * default 477 MiB overhead; 128 → 211 MiB at 0.98× the boot time; 96 → 169 MiB at 0.98×;
 * 80 → 153 MiB at 1.09×; 64 → 133 MiB at 1.19× (the cache is flushed a dozen times per boot).
 * A busybox guest fills ~68 MiB whatever the size. 96 keeps a Debian boot at the default's time
 * for about a third of its overhead.
 */
export const DEFAULT_TRANSLATION_CACHE_MIB = 96;

export type TranslationCacheSetting = TuningSetting;

export function parseTranslationCacheSetting(text: string | undefined): TranslationCacheSetting {
  return parseTuningSetting('BANGER_QEMU_TB_SIZE_MIB', text, { max: 4096, what: 'a size in MiB' });
}

/** The tb-size to pass, or undefined for QEMU's own default. */
export function translationCacheMiB(setting: TranslationCacheSetting): number | undefined {
  return tuningValue(setting, DEFAULT_TRANSLATION_CACHE_MIB);
}
