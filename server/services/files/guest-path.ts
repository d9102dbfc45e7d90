import { posix } from 'node:path';
import type { FieldError } from '../errors.js';

/** The longest guest path taken (Linux PATH_MAX, with its NUL). */
export const MAX_GUEST_PATH = 4095;

/** A path in the guest, made plain: absolute, no empty, "." or ".." parts, no trailing slash. */
export function normalizeGuestPath(path: string): string | FieldError {
  const field = 'query.path';
  if (!path.startsWith('/')) return { field, message: `must be an absolute path in the guest, got "${path}"`, hint: 'start it with /' };
  if (path.includes('\0')) return { field, message: 'must not contain NUL bytes' };
  if (Buffer.byteLength(path) > MAX_GUEST_PATH) return { field, message: `must be at most ${MAX_GUEST_PATH} bytes` };
  const normal = posix.normalize(path);
  return normal.length > 1 ? normal.replace(/\/+$/, '') : normal;
}

/** File modes as people write them: 644, 0644, 0755, 1777; permission and sticky/setid bits only. */
export function parseFileMode(text: string): number | FieldError {
  if (!/^0?[0-7]{3,4}$/.test(text)) return { field: 'query.mode', message: `"${text}" is not an octal file mode`, hint: 'e.g. 0644 or 755' };
  return Number.parseInt(text, 8);
}

export function formatFileMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}
