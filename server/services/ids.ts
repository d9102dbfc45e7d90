import { randomBytes } from 'node:crypto';
import { idShapedNameHint, looksLikeId } from '../domain/ids.js';
import type { FieldError } from './errors.js';

/** Short random ids: unique enough for one host, easy to type and to read in paths. Of the shape domain/ids idPattern. */
export function newId(): string {
  return randomBytes(8).toString('hex');
}

export function now(): string {
  return new Date().toISOString();
}

/** The error of a chosen name that would look like an id (none when it would not): ids and names never overlap. */
export function idShapedNameErrors(field: string, name: string | undefined): FieldError[] {
  if (name === undefined || !looksLikeId(name)) return [];
  return [{ field, message: `"${name}" has the shape of an id`, hint: idShapedNameHint }];
}
