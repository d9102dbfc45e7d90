import type { Recipe } from '../../../domain/image.js';
import { isValidPackageName } from '../../../guest/debian/packages.js';
import { type FieldError } from '../../errors.js';

const mib = 1024 * 1024;
export const minimumImageSize = 64 * mib;
export const maximumImageSize = 64 * 1024 * mib;
export const defaultSizes: Record<Recipe | 'baseRootfs', string> = {
  'busybox': '256M',
  'debian-bookworm': '2G',
  'baseRootfs': '4G',
};

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

export function invalidPackageNames(packages: readonly string[]): string[] {
  return packages.filter((name) => !isValidPackageName(name));
}

export interface BuildSizeCheck {
  field: string;
  text: string;
}

/** The size checks that need no files: a readable size inside the bounds. */
export function checkSize({ field, text }: BuildSizeCheck): { bytes: number } | FieldError {
  const bytes = parseSize(text);
  if (bytes === null) {
    return { field, message: `"${text}" is not a size`, hint: 'use a number with a unit, e.g. 512M or 2G' };
  }
  if (bytes < minimumImageSize || bytes > maximumImageSize) {
    return { field, message: `${text} is outside ${formatSize(minimumImageSize)}..${formatSize(maximumImageSize)}`, hint: 'pick a size between 64M and 64G' };
  }
  return { bytes };
}

