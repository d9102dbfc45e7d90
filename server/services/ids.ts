import { randomBytes } from 'node:crypto';

/** Short random ids: unique enough for one host, easy to type and to read in paths. */
export function newId(): string {
  return randomBytes(8).toString('hex');
}

export function now(): string {
  return new Date().toISOString();
}
