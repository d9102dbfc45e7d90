import { ProblemError } from '../errors.js';
import type { Problem } from '../types.js';

export interface Stream {
  write(text: string | Uint8Array): unknown;
  isTTY?: boolean;
}

/** Where a command writes: results to stdout, diagnostics to stderr, JSON when asked. */
export class Output {
  constructor(
    readonly stdout: Stream,
    readonly stderr: Stream,
    readonly json: boolean,
  ) {}

  /** Live redrawing only makes sense for a person watching a terminal. */
  get interactive(): boolean {
    return !this.json && this.stdout.isTTY === true;
  }

  line(text = ''): void {
    this.stdout.write(`${text}\n`);
  }

  printJson(value: unknown): void {
    this.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  table(headers: string[], rows: string[][]): void {
    const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)));
    const render = (cells: string[]) =>
      cells
        .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
        .join('  ')
        .trimEnd();
    this.line(render(headers));
    for (const row of rows) this.line(render(row));
  }

  /** Aligned `label: value` lines, for one resource. */
  fields(entries: Array<[string, string]>): void {
    const width = Math.max(...entries.map(([label]) => label.length)) + 1;
    for (const [label, value] of entries) this.line(`${`${label}:`.padEnd(width)}  ${value}`);
  }

  problem(problem: Problem): void {
    this.stderr.write(`error: ${problem.detail}\n`);
    for (const field of problem.errors ?? []) {
      this.stderr.write(`  ${field.field}: ${field.message}\n`);
      // One hint for the whole problem already covers a lone field.
      if (field.hint && field.hint !== problem.hint) this.stderr.write(`    hint: ${field.hint}\n`);
    }
    if (problem.hint) this.stderr.write(`hint: ${problem.hint}\n`);
    if (problem.logPath) this.stderr.write(`log: ${problem.logPath}\n`);
  }

  error(error: unknown): void {
    if (error instanceof ProblemError) return this.problem(error.problem);
    const message = error instanceof Error ? error.message : String(error);
    this.stderr.write(`error: ${message}\n`);
  }
}

/** A command line that parsed but makes no sense (exit 2, like commander's own complaints). */
export class UsageError extends Error {
  override name = 'UsageError';
}
