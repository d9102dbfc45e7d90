import {
  Type,
  type IntegerOptions,
  type SchemaOptions,
  type Static,
  type StringOptions,
  type TBoolean,
  type TInteger,
  type TNumber,
  type TObject,
  type TRecord,
  type TString,
  type TUnsafe,
} from '@sinclair/typebox';
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

/** What nullable() takes: a schema of one JSON type. */
type OneTyped = TString | TInteger | TNumber | TBoolean | TObject | TRecord;

/**
 * The schema's values or null, as one list of two types (`type: [T, 'null']`) rather than an
 * anyOf with null: fast-json-stringify writes a type list after a typeof test, but picks an
 * anyOf's branch by running an ajv validator on the value, which made the nullable fields the
 * dearest part of a list's answer. Validators and generated clients read both the same.
 */
export function nullable<T extends OneTyped>(schema: T, options: SchemaOptions = {}): TUnsafe<Static<T> | null> {
  // Only the JSON keywords: TypeBox's symbols would make the result pass for a plain T.
  const { type, ...keywords } = Object.fromEntries(Object.entries(schema)) as Record<string, unknown>;
  return Type.Unsafe<Static<T> | null>({ ...keywords, ...options, type: [type, 'null'] });
}

/** One of `values` or null, written like nullable() for the same reason. */
export function nullableEnum<const Values extends readonly string[]>(values: Values, options: SchemaOptions = {}): TUnsafe<Values[number] | null> {
  return Type.Unsafe<Values[number] | null>({ ...options, type: ['string', 'null'], enum: [...values, null] });
}

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
