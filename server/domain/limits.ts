/**
 * Upper bounds of what the server answers (and of some of what it accepts), shared by the HTTP
 * schemas, which state them in the contract, and the code that keeps them. Each says why it holds.
 * It imports nothing, so db/, schemas/, services/ and guest/ can all depend on it.
 */

/** Counts of bytes and of milliseconds: JavaScript numbers count exactly up to 2^53 - 1. */
export const maxSafeCount = Number.MAX_SAFE_INTEGER;

/** Host and guest paths: Linux's PATH_MAX is 4096 bytes with the NUL, so no path that was opened is longer. */
export const maxPathLength = 4096;

/** Resource ids are 16 hex digits (services/ids.ts); the bound leaves room for older or longer ids. */
export const maxIdLength = 64;

/** Names of images, VMs and snapshots: 1-63 characters. */
export const maxNameLength = 63;

/** Links to resources the server builds, e.g. /snapshots/{id}. */
export const maxHrefLength = 320;

/** ISO 8601 timestamps (24 characters from Date#toISOString, 27 with a six-digit year). */
export const maxTimestampLength = 64;

/** Cursors handed out (base64url JSON of a name, or of a time and an id) and taken back. */
export const maxCursorLength = 512;

/** JSON request bodies: Fastify's bodyLimit (config.ts), so no string in one is longer. */
export const maxJsonBodyBytes = 64 * 1024;

/** A signal's name as a guest's SSH server reports it for an exec (e.g. KILL); cut beyond. */
export const maxSignalNameLength = 32;

/**
 * Free text the server writes: problem details, state messages and stage details, which can carry
 * console lines, a service's log tail or a package list. Longer text is cut in the middle.
 */
export const maxMessageLength = 65_536;

/** A problem's hint, and each field error's message and hint; cut beyond. */
export const maxHintLength = 4096;

/** The field an error names (a body key can be as long as the body); cut beyond. */
export const maxFieldLength = 1024;

/** Field errors one problem lists: a body with thousands of faults gets the first ones. */
export const maxFieldErrors = 100;

/**
 * GET /metrics: every label value comes from a fixed set (routes, statuses, job kinds and stages,
 * boot phases, VM states), which makes at most a few thousand series, under 1 MiB of text.
 */
export const maxMetricsTextLength = 4 * 1024 * 1024;

/**
 * The text itself when it fits in max characters (UTF-16 units, so also code points); else its
 * start and its end around a note of how much was cut: a failure's summary leads a detail and the
 * last log lines end it. A surrogate pair is never split.
 */
export function clipText(text: string, max: number): string {
  if (text.length <= max) return text;
  const note = (cut: number) => `\n… [${cut} characters cut] …\n`;
  // The note for the whole text is at least as long as the one for what is really cut.
  const room = max - note(text.length).length;
  if (room < 2) return keepWhole(text.slice(0, max), 'end');
  const head = keepWhole(text.slice(0, Math.ceil(room / 2)), 'end');
  const tail = keepWhole(text.slice(text.length - Math.floor(room / 2)), 'start');
  return `${head}${note(text.length - head.length - tail.length)}${tail}`;
}

/** Drops a lone half of a surrogate pair left at the cut end of a slice. */
function keepWhole(slice: string, cut: 'start' | 'end'): string {
  if (cut === 'end') {
    const last = slice.charCodeAt(slice.length - 1);
    return last >= 0xd800 && last <= 0xdbff ? slice.slice(0, -1) : slice;
  }
  const first = slice.charCodeAt(0);
  return first >= 0xdc00 && first <= 0xdfff ? slice.slice(1) : slice;
}
