import { lstat, readlink, realpath, stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { BangerError, type FieldError } from '../errors.js';

type Kind = 'file' | 'directory';

/**
 * Collects every problem with a set of host paths before anything is touched, so that a user
 * fixes them all in one go rather than one per attempt.
 */
export class Preflight {
  private readonly failures: FieldError[] = [];

  async requireFile(field: string, path: string, label: string, hint: string): Promise<void> {
    await this.require(field, path, label, hint, 'file');
  }

  async requireDir(field: string, path: string, label: string, hint: string): Promise<void> {
    await this.require(field, path, label, hint, 'directory');
  }

  get count(): number {
    return this.failures.length;
  }

  fail(field: string, message: string, hint: string): void {
    this.failures.push({ field, message, hint });
  }

  throwIfFailed(summary: string): void {
    if (this.failures.length === 0) return;
    // One failure reads well inline; several are summarised and listed in `errors`.
    const [only] = this.failures;
    const detail =
      this.failures.length === 1 && only
        ? `${summary}: ${only.message}`
        : `${summary}: ${this.failures.length} paths are unusable (${this.failures.map((f) => f.field).join(', ')})`;
    throw new BangerError('preflight-failed', detail, {
      errors: this.failures,
      hint: this.failures.length === 1 ? this.failures[0]?.hint : 'fix every listed field, then retry',
    });
  }

  private async require(field: string, path: string, label: string, hint: string, kind: Kind): Promise<void> {
    const problem = await describePathProblem(path, label, kind);
    if (problem) this.failures.push({ field, message: problem, hint });
  }
}

/** Why `path` is not a usable `kind`, or null when it is. */
export async function describePathProblem(path: string, label: string, kind: Kind): Promise<string | null> {
  if (!isAbsolute(path)) return `${label} path must be absolute, got "${path}"`;
  if (path.split('/').includes('..')) return `${label} path must not contain ".." segments, got "${path}"`;
  let resolved: string;
  try {
    resolved = await realpath(path);
  } catch {
    return await describeMissing(path, label);
  }
  const info = await stat(resolved);
  if (kind === 'file' && !info.isFile()) {
    return `${label} ${path} is ${info.isDirectory() ? 'a directory' : 'not a regular file'}, expected a regular file`;
  }
  if (kind === 'directory' && !info.isDirectory()) return `${label} ${path} is not a directory`;
  return null;
}

async function describeMissing(path: string, label: string): Promise<string> {
  try {
    const link = await lstat(path);
    if (link.isSymbolicLink()) return `${label} ${path} is a symlink to ${await readlink(path)}, which does not exist`;
  } catch {
    // The path itself is missing: the plain message below says so.
  }
  return `${label} ${path} does not exist`;
}
