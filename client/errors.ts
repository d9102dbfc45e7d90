import type { Problem } from './types.js';

/** A non-2xx answer from the daemon, carrying its application/problem+json body. */
export class ProblemError extends Error {
  readonly problem: Problem;
  readonly status: number;

  constructor(problem: Problem) {
    super(problem.detail);
    this.name = 'ProblemError';
    this.problem = problem;
    this.status = problem.status;
  }

  get code(): string {
    return this.problem.code;
  }
}

/** The daemon could not be reached at all: nothing listens there, or we may not connect. */
export class DaemonUnreachableError extends Error {
  readonly target: string;

  constructor(message: string, target: string, cause: unknown) {
    super(message, { cause });
    this.name = 'DaemonUnreachableError';
    this.target = target;
  }
}

/** waitJob gave up after its timeoutMs; the job itself goes on. */
export class WaitTimeoutError extends Error {
  readonly jobId: string;

  constructor(jobId: string, timeoutMs: number) {
    super(`job ${jobId} had not finished after ${timeoutMs} ms; it is still running`);
    this.name = 'WaitTimeoutError';
    this.jobId = jobId;
  }
}

/**
 * Proxies or crashes can answer with something that is not a problem document; the caller still
 * deserves a ProblemError with the status and whatever text came back.
 */
export function problemFromResponse(status: number, text: string): Problem {
  try {
    const parsed: unknown = JSON.parse(text);
    if (isProblem(parsed)) return parsed;
  } catch {
    // Not JSON: described below.
  }
  return {
    type: 'about:blank',
    title: `HTTP ${status}`,
    status,
    code: `http-${status}`,
    detail: text.trim() === '' ? `the daemon answered HTTP ${status} without details` : text.trim().slice(0, 500),
  };
}

function isProblem(value: unknown): value is Problem {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return typeof candidate.code === 'string' && typeof candidate.detail === 'string' && typeof candidate.status === 'number';
}

function errorCode(error: unknown): string | undefined {
  for (let current = error; current instanceof Error; current = current.cause) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** Turns a low-level connect failure into a message that says what to do; anything else passes through. */
export function explainConnectionError(error: unknown, endpoint: { socketPath?: string; baseUrl?: string }): unknown {
  const code = errorCode(error);
  if (endpoint.socketPath !== undefined) {
    const socket = endpoint.socketPath;
    if (code === 'ENOENT' || code === 'ECONNREFUSED') {
      return new DaemonUnreachableError(
        `the banger daemon is not running at ${socket}; start it with \`banger serve\` (or \`npm start\` in a checkout), or point --socket / BANGER_SOCKET at the socket it uses`,
        socket,
        error,
      );
    }
    if (code === 'EACCES' || code === 'EPERM') {
      return new DaemonUnreachableError(
        `permission denied on the daemon socket ${socket}; it is only open to the daemon's user and group (mode 0660)`,
        socket,
        error,
      );
    }
    return error;
  }
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ETIMEDOUT') {
    const url = endpoint.baseUrl ?? '';
    return new DaemonUnreachableError(
      `cannot reach the banger daemon at ${url} (${code}); check that it runs with --listen on that address`,
      url,
      error,
    );
  }
  return error;
}
