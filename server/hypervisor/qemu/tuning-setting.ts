/**
 * A QEMU tuning knob set from the environment: `auto` (banger's measured choice), `default`
 * (QEMU's or glibc's own), or a number in a range.
 */
export type TuningSetting = 'auto' | 'default' | number;

export function parseTuningSetting(variable: string, text: string | undefined, range: { max: number; what: string }): TuningSetting {
  if (text === undefined || text === '' || text === 'auto') return 'auto';
  if (text === 'default') return 'default';
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > range.max) {
    throw new Error(`${variable} must be auto, default or ${range.what} from 1 to ${range.max}, got "${text}"`);
  }
  return Number(text);
}

/** The value to apply, or undefined to leave the tool's own default. */
export function tuningValue(setting: TuningSetting, auto: number): number | undefined {
  if (setting === 'default') return undefined;
  return setting === 'auto' ? auto : setting;
}
