import { BangerError } from '../services/errors.js';

/** Cursors are opaque to clients: base64url JSON of the position after which the next page starts. */
export function encodeCursor(position: unknown): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

export function decodeCursor<T>(cursor: string | undefined, isValid: (value: unknown) => value is T): T | undefined {
  if (cursor === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (isValid(value)) return value;
  } catch {
    // Reported below like any other unreadable cursor.
  }
  throw new BangerError('validation-failed', 'The cursor is not one this server handed out', {
    errors: [{ field: 'querystring.cursor', message: 'unreadable cursor' }],
    hint: 'pass nextCursor from the previous page unchanged, or omit it to start over',
  });
}

/** Asks for one item more than the page holds to learn whether another page follows. */
export function page<T>(rows: T[], limit: number, positionOf: (row: T) => unknown): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(positionOf(last)) : null };
}

/** The schemas default `limit` to this too; the constant covers callers that bypass validation. */
export const defaultPageSize = 50;
