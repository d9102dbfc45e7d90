import { Type, type IntegerOptions, type StringOptions } from '@sinclair/typebox';
import {
  maxCursorLength,
  maxHrefLength,
  maxIdLength,
  maxMessageLength,
  maxNameLength,
  maxPathLength,
  maxSafeCount,
  maxTimestampLength,
} from '../domain/limits.js';

/**
 * Bounded schemas for the contract: every string has a maxLength and every integer a format and a
 * range, each a bound the server keeps (server/domain/limits.ts says why each holds).
 */

/** A string of at most maxLength characters. */
export const text = (maxLength: number, options: StringOptions = {}) => Type.String({ maxLength, ...options });

/** A resource id the server made. */
export const idString = (options: StringOptions = {}) => text(maxIdLength, options);

/** The name of an image, a VM or a snapshot, as the server answers it. */
export const nameString = (options: StringOptions = {}) => text(maxNameLength, options);

export const timestamp = (options: StringOptions = {}) => Type.String({ format: 'date-time', maxLength: maxTimestampLength, ...options });

/** A link the server builds to one of its resources. */
export const href = (options: StringOptions = {}) => text(maxHrefLength, options);

/** A host or guest path. */
export const pathString = (options: StringOptions = {}) => text(maxPathLength, options);

/** Free text the server writes, cut in the middle beyond maxMessageLength. */
export const message = (options: StringOptions = {}) => text(maxMessageLength, options);

/** The most items a page holds: the limit a list query accepts, and so its items' maxItems. */
export const maxPageSize = 500;

/** A page's nextCursor. */
export const cursorString = (options: StringOptions = {}) => text(maxCursorLength, options);

const int32Range = { min: -(2 ** 31), max: 2 ** 31 - 1 };

/** An integer in minimum..maximum, as int32 when that range fits in one, else int64. */
export function integer(minimum: number, maximum: number, options: IntegerOptions = {}) {
  const format = minimum >= int32Range.min && maximum <= int32Range.max ? 'int32' : 'int64';
  return Type.Integer({ format, minimum, maximum, ...options });
}

/** A count of bytes, or any other count a JavaScript number keeps exact. */
export const byteCount = (options: IntegerOptions = {}) => integer(0, maxSafeCount, options);

/** A duration in milliseconds. */
export const milliseconds = (options: IntegerOptions = {}) => integer(0, maxSafeCount, options);

export const tcpPort = (options: IntegerOptions = {}) => integer(1, 65_535, options);

/** vCPUs of a VM: what a create, a warm-up and a snapshot accept. */
export const maxCpus = 1024;
/** Memory of a VM in MiB: what a create, a warm-up and a snapshot accept (16 TiB). */
export const maxMemoryMiB = 16_777_216;

/** Bytes sent or received as a stream (a file, a tar archive, stdin): no bound but what the daemon can count. */
export const binaryStream = (options: StringOptions = {}) => Type.String({ format: 'binary', maxLength: maxSafeCount, ...options });
