import type { WriteStream } from 'node:fs';
import { RunError } from '../../../host/runner.js';
import { BangerError } from '../../errors.js';
import type { BuildContext, BuildStage } from '../image-jobs.js';

/** Runs one stage's work and turns a failed command into a problem that says what went wrong. */
export class StepRunner {
  constructor(
    private readonly context: BuildContext,
    private readonly log: WriteStream,
  ) {}

  async run<T>(stage: BuildStage, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      // A tool that hung is its own problem (tool-timeout, from the job service), not a failed build step.
      if (error instanceof RunError && error.reason !== 'timeout' && !this.context.signal.aborted) {
        throw new BangerError('image-build-failed', `${stage} failed: ${essentialLines(error)}`, {
          hint: `the full output is in the build log: ${this.log.path}`,
          cause: error,
        });
      }
      throw error;
    }
  }
}

/** The lines of a failed command that say why: apt's `E:` lines, else the last few. */
export function essentialLines(error: RunError): string {
  const lines = `${error.stderr}\n${error.stdout}`.split('\n').map((line) => line.trim()).filter(Boolean);
  const errors = lines.filter((line) => /^(E:|error:|mmdebstrap: error|dpkg: error)/i.test(line));
  const chosen = errors.length > 0 ? errors.slice(0, 5) : lines.slice(-3);
  return chosen.length > 0 ? `${error.message}; ${chosen.join(' | ')}` : error.message;
}
