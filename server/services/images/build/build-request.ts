import type { Recipe } from '../../../domain/image.js';
import { isValidPackageName } from '../../../guest/debian/packages.js';
import { formatSize, mib, parseSize } from '../../../domain/byte-size.js';
import { type FieldError } from '../../errors.js';

export const minimumImageSize = 64 * mib;
export const maximumImageSize = 64 * 1024 * mib;
export const defaultSizes: Record<Recipe | 'baseRootfs', string> = {
  'busybox': '256M',
  'debian-bookworm': '2G',
  'baseRootfs': '4G',
};

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

