import { isAbsolute } from 'node:path';
import { checkHostFile, checkModulesDir, HostPathProblem, openHostFile, readHostTextFile, pseudoFilesystemDirs, type HostFileKind } from '../../host/file-kind.js';
import { BangerError, type FieldError } from '../errors.js';
import type { ImportRoots } from './import-roots.js';

export interface PathCheckOptions {
  /** A path the operator configured (BANGER_DEFAULT_KERNEL, …) rather than the request: no import roots apply. */
  configured?: boolean;
}

/**
 * Collects every problem with a set of host paths before anything is touched, so that a user
 * fixes them all in one go rather than one per attempt. Each file is checked for what it claims to
 * be and for where it lies: inside `roots` (null: anywhere) and on no pseudo filesystem.
 */
export class Preflight {
  private readonly failures: FieldError[] = [];

  constructor(private readonly roots: ImportRoots | null = null) {}

  async requireFile(field: string, path: string, kind: HostFileKind, label: string, hint: string, options: PathCheckOptions = {}): Promise<void> {
    await this.check(field, path, label, hint, options, (roots) => checkHostFile(path, kind, roots));
  }

  /** requireFile for a text file, returning its content (null when it is unusable). */
  async readTextFile(field: string, path: string, label: string, hint: string, options: PathCheckOptions = {}): Promise<string | null> {
    let text: string | null = null;
    await this.check(field, path, label, hint, options, async (roots) => {
      text = await readHostTextFile(path, roots);
    });
    return text;
  }

  async requireModulesDir(field: string, path: string, label: string, hint: string, options: PathCheckOptions = {}): Promise<void> {
    await this.check(field, path, label, hint, options, (roots) => checkModulesDir(path, roots));
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

  private async check(
    field: string,
    path: string,
    label: string,
    hint: string,
    options: PathCheckOptions,
    inspect: (roots: readonly string[] | null) => Promise<void>,
  ): Promise<void> {
    if (!isAbsolute(path)) return this.fail(field, `${label} path must be absolute, got "${path}"`, hint);
    if (path.split('/').includes('..')) return this.fail(field, `${label} path must not contain ".." segments, got "${path}"`, hint);
    const roots = options.configured ? null : this.roots;
    try {
      await inspect(roots?.dirs ?? null);
    } catch (error) {
      if (!(error instanceof HostPathProblem)) throw error;
      this.fail(field, `${label} ${path} ${error.message}`, hintFor(error, roots, hint));
    }
  }
}

export interface RecheckedFile {
  field: string;
  path: string;
  kind: HostFileKind;
  /** The import roots the request was held to; null: anywhere. */
  roots: readonly string[] | null;
  /** Starts the problem's detail, e.g. "Cannot promote image base". */
  summary: string;
  hint: string;
}

/**
 * For a job that reads a file a request named, some time after the request was checked: checks it
 * again and hands `use` a path (/proc/<pid>/fd/<n>) that reaches exactly the file just checked, so
 * a path replaced in between (by a symlink to a device, say) is refused rather than followed.
 */
export async function withRecheckedFile<T>(file: RecheckedFile, use: (checkedPath: string) => Promise<T>): Promise<T> {
  let opened;
  try {
    opened = await openHostFile(file.path, file.kind, file.roots);
  } catch (error) {
    if (!(error instanceof HostPathProblem)) throw error;
    const message = `${file.path} ${error.message}`;
    throw new BangerError('preflight-failed', `${file.summary}: ${message}`, {
      errors: [{ field: file.field, message, hint: file.hint }],
      hint: 'the file changed after the request was accepted; nothing was read from it',
    });
  }
  try {
    return await use(opened.procPath);
  } finally {
    await opened.close();
  }
}

function hintFor(problem: HostPathProblem, roots: ImportRoots | null, hint: string): string {
  if (problem.reason === 'outside-roots' && roots) return roots.hint;
  if (problem.reason === 'pseudo-filesystem') return `files under ${pseudoFilesystemDirs.join(', ')} are never read as images: ${hint}`;
  if (problem.reason === 'changed') return `the path was replaced while banger looked at it; retry once it stays put (${hint})`;
  return hint;
}
