import type { StoredProblem } from '../db/schema.js';
import { clipText, maxFieldErrors, maxFieldLength, maxHintLength, maxMessageLength } from '../domain/limits.js';

/**
 * Every failure banger reports has a stable code. The catalogue gives each code its title and the
 * HTTP-style status it stands for: problems are stored on jobs too, so the status lives here
 * rather than in the HTTP layer.
 */
export const problemCatalogue = {
  'validation-failed': { status: 422, title: 'The request is not valid' },
  'preflight-failed': { status: 422, title: 'Required files are missing or unusable' },
  'idempotency-key-reused': { status: 422, title: 'Idempotency key reused with a different request' },
  'unauthorized': { status: 401, title: 'Missing or invalid bearer token' },
  'not-found': { status: 404, title: 'No such route' },
  'image-not-found': { status: 404, title: 'Image not found' },
  'job-not-found': { status: 404, title: 'Job not found' },
  'image-managed': { status: 409, title: 'Managed images cannot be re-registered' },
  'image-name-taken': { status: 409, title: 'An image with this name exists' },
  'image-not-managed': { status: 409, title: 'Image is not managed by banger' },
  'image-already-managed': { status: 409, title: 'Image is already managed' },
  'image-in-use': { status: 409, title: 'Image is used by VMs' },
  'artifact-dir-exists': { status: 409, title: 'Artifact directory already exists' },
  'resource-busy': { status: 409, title: 'Another job is working on this resource' },
  'job-finished': { status: 409, title: 'Job has already finished' },
  'job-not-cancellable': { status: 409, title: 'Job cannot be cancelled' },
  'idempotency-key-in-flight': { status: 409, title: 'A request with this idempotency key is still running' },
  'body-too-large': { status: 413, title: 'Request body too large' },
  'unsupported-media-type': { status: 415, title: 'Unsupported media type' },
  'shutting-down': { status: 503, title: 'The daemon is shutting down' },
  'rate-limited': { status: 429, title: 'Too many requests from this address' },
  'bad-request': { status: 400, title: 'The request cannot be read' },
  'interrupted': { status: 500, title: 'The job was interrupted by a daemon restart' },
  'cancelled': { status: 409, title: 'The job was cancelled' },
  'command-failed': { status: 500, title: 'A host command failed' },
  'tool-timeout': { status: 500, title: 'A host tool did not finish in time' },
  'host-tool-missing': { status: 500, title: 'A host tool banger needs is not installed' },
  'image-build-failed': { status: 500, title: 'The image build failed' },
  'image-size-too-small': { status: 422, title: 'The image size is too small for its content' },
  'vm-not-found': { status: 404, title: 'VM not found' },
  'vm-name-taken': { status: 409, title: 'A VM with this name exists' },
  'vm-limit-reached': { status: 409, title: 'The VM limit is reached' },
  'vm-state-conflict': { status: 409, title: 'The VM is not in a state that allows this' },
  'vm-ports-exhausted': { status: 409, title: 'No free host port for a forward' },
  'snapshot-not-found': { status: 404, title: 'Snapshot not found' },
  'snapshot-name-taken': { status: 409, title: 'A snapshot with this name exists' },
  'snapshot-in-use': { status: 409, title: 'VMs or snapshots stand on this snapshot' },
  'snapshot-not-ready': { status: 409, title: 'The snapshot cannot be restored' },
  'snapshot-incompatible': { status: 409, title: 'The snapshot does not fit this VM or hypervisor' },
  'hypervisor-unavailable': { status: 409, title: "The VM's hypervisor is not available on this daemon" },
  'image-not-bootable': { status: 422, title: 'The image lacks what a VM needs to boot' },
  'kernel-panic': { status: 500, title: 'The guest kernel panicked' },
  'hypervisor-exited': { status: 500, title: 'The hypervisor exited' },
  'agent-timeout': { status: 504, title: 'The guest agent did not answer in time' },
  'port-timeout': { status: 504, title: 'A published guest port did not open in time' },
  'service-exited': { status: 502, title: "A service of the image exited before its port opened" },
  'guest-shell-unavailable': { status: 409, title: 'The VM has no guest shell channel' },
  'exec-not-found': { status: 404, title: 'Exec not found' },
  'exec-stdin-unavailable': { status: 409, title: 'The exec takes no streamed stdin' },
  'guest-path-not-found': { status: 404, title: 'No such file or directory in the guest' },
  'guest-path-conflict': { status: 409, title: 'The guest path is not of the kind this needs' },
  'guest-disk-full': { status: 507, title: 'The guest filesystem is full' },
  'insufficient-storage': { status: 507, title: "Not enough free space on the daemon's state filesystem" },
  'guest-file-failed': { status: 500, title: 'A file operation in the guest failed' },
  'guest-exec-limit': { status: 429, title: 'The guest runs as many commands at once as its SSH server takes' },
  'guest-unreachable': { status: 502, title: 'The guest did not answer on its shell channel' },
  'internal': { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemCode = keyof typeof problemCatalogue;

export function isProblemCode(code: string): code is ProblemCode {
  return Object.hasOwn(problemCatalogue, code);
}

export interface FieldError {
  field: string;
  message: string;
  hint?: string;
}

export interface BangerErrorOptions {
  hint?: string;
  errors?: FieldError[];
  logPath?: string;
  /** insufficient-storage: the free bytes, and what the refused work needed (null: a write that met a full disk). */
  space?: { freeBytes: number; neededBytes: number | null };
  cause?: unknown;
}

/** A failure with a stable code; routes turn it into application/problem+json, jobs store it. */
export class BangerError extends Error {
  readonly code: ProblemCode;
  readonly hint: string | undefined;
  readonly errors: FieldError[] | undefined;
  logPath: string | undefined;
  readonly space: BangerErrorOptions['space'];

  constructor(code: ProblemCode, detail: string, options: BangerErrorOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BangerError';
    this.code = code;
    this.hint = options.hint;
    this.errors = options.errors;
    this.logPath = options.logPath;
    this.space = options.space;
  }

  get status(): number {
    return problemCatalogue[this.code].status;
  }

  /** A problem a job stored, raised again: a quick job's failure becomes the answer to its request. */
  static fromProblem(problem: StoredProblem): BangerError {
    const code = isProblemCode(problem.code) ? problem.code : 'internal';
    const space = problem.freeBytes === undefined ? undefined : { freeBytes: problem.freeBytes, neededBytes: problem.neededBytes ?? null };
    return new BangerError(code, problem.detail, { hint: problem.hint, errors: problem.errors, logPath: problem.logPath, space });
  }

  toProblem(): StoredProblem {
    return problemFor(this.code, this.message, {
      hint: this.hint,
      errors: this.errors,
      logPath: this.logPath,
      space: this.space,
    });
  }
}

export function problemFor(
  code: ProblemCode,
  detail: string,
  extra: { hint?: string | undefined; errors?: FieldError[] | undefined; logPath?: string | undefined; space?: BangerErrorOptions['space'] } = {},
): StoredProblem {
  const { status, title } = problemCatalogue[code];
  const problem: StoredProblem = { type: `urn:banger:problem:${code}`, title, status, code, detail };
  if (extra.hint) problem.hint = extra.hint;
  if (extra.errors && extra.errors.length > 0) problem.errors = extra.errors;
  if (extra.logPath) problem.logPath = extra.logPath;
  if (extra.space) {
    problem.freeBytes = extra.space.freeBytes;
    if (extra.space.neededBytes !== null) problem.neededBytes = extra.space.neededBytes;
  }
  return boundedProblem(problem);
}

/**
 * The problem within the contract's bounds: a detail that carries console lines or a log tail,
 * a field named after a long body key or thousands of field errors (the schema check reports
 * them all) are cut. Applied where problems are made, and to the ones jobs stored before.
 */
export function boundedProblem(problem: StoredProblem): StoredProblem {
  const bounded: StoredProblem = { ...problem, detail: clipText(problem.detail, maxMessageLength) };
  if (problem.hint !== undefined) bounded.hint = clipText(problem.hint, maxHintLength);
  if (problem.errors !== undefined) {
    bounded.errors = problem.errors.slice(0, maxFieldErrors).map((error) => ({
      field: clipText(error.field, maxFieldLength),
      message: clipText(error.message, maxHintLength),
      ...(error.hint === undefined ? {} : { hint: clipText(error.hint, maxHintLength) }),
    }));
  }
  return bounded;
}

/** A 422 naming every field that is wrong, with the one hint when there is one field. */
export function validationError(summary: string, errors: FieldError[]): BangerError {
  const [only] = errors;
  const detail = errors.length === 1 && only ? `${summary}: ${only.field}: ${only.message}` : `${summary}: ${errors.map((e) => e.field).join(', ')} are invalid`;
  return new BangerError('validation-failed', detail, { errors, hint: errors.length === 1 ? only?.hint : 'fix every listed field, then retry' });
}
