/** Sizes as people write them (`512M`, `2G`) and read them. Binary units throughout. */

export const mib = 1024 * 1024;

const units: Record<string, number> = { K: 1024, M: mib, G: 1024 * mib, T: 1024 * 1024 * mib };

/** `512M`, `2G`, `1.5G`, `2GiB`: binary units, like truncate and qemu-img. */
export function parseSize(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)\s*([KMGT])(?:i?B)?$/i.exec(text.trim());
  if (!match?.[1] || !match[2]) return null;
  const bytes = Number(match[1]) * (units[match[2].toUpperCase()] ?? 0);
  return Number.isFinite(bytes) ? Math.round(bytes / 4096) * 4096 : null;
}

export function formatSize(bytes: number): string {
  if (bytes >= units.G! && bytes % units.G! === 0) return `${bytes / units.G!}G`;
  return `${Math.ceil(bytes / mib)}M`;
}

/** A byte count for a message: `448 KiB`, `12.3 MiB`, `1.5 GiB`. */
export function describeBytes(bytes: number): string {
  const steps: Array<[string, number]> = [['TiB', units.T!], ['GiB', units.G!], ['MiB', mib], ['KiB', units.K!]];
  for (const [unit, size] of steps) {
    if (bytes >= size) {
      const value = bytes / size;
      return `${value >= 100 || Number.isInteger(value) ? Math.round(value) : value.toFixed(1)} ${unit}`;
    }
  }
  return `${bytes} bytes`;
}
