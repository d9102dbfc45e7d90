import type { Job, JobStage } from '../types.js';
import type { Stream } from './output.js';
import { nameWidth, paintFor, stageLine } from './stage-line.js';

const spinnerFrames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const redrawMs = 100;
const clearLine = '\r\x1b[2K';

export interface StageProgress {
  /** Feed every job snapshot as it arrives. */
  update(job: Job): void;
  /** The job is finished (or we stop watching): print what is left and release the terminal. */
  stop(job?: Job): void;
}

/**
 * Prints one line per finished stage, in the job's stage order: the daemon may mark later stages
 * skipped while an earlier one is still running, and lines out of order read as nonsense. On a
 * terminal the running stage is a spinner line redrawn in place; elsewhere only plain lines.
 */
export function createStageProgress(stream: Stream, options: { tty: boolean; env?: NodeJS.ProcessEnv }): StageProgress {
  const paint = paintFor(options.tty, options.env);
  let printed = 0;
  let latest: Job | undefined;
  let spinnerShown = false;
  let frame = 0;
  let timer: NodeJS.Timeout | undefined;

  const running = (job: Job): { stage: JobStage; index: number } | undefined => {
    const index = job.stages.findIndex((stage) => stage.status === 'running');
    const stage = job.stages[index];
    return stage ? { stage, index } : undefined;
  };

  const eraseSpinner = () => {
    if (spinnerShown) stream.write(clearLine);
    spinnerShown = false;
  };

  const drawSpinner = () => {
    const current = latest && running(latest);
    if (!options.tty || !latest || !current) return;
    const symbol = spinnerFrames[frame % spinnerFrames.length];
    frame += 1;
    const line = stageLine(current.stage, nameWidth(latest.stages), paint, { symbol });
    stream.write(`${clearLine}${line}`);
    spinnerShown = true;
  };

  const printFinished = (job: Job, finishing: boolean) => {
    const width = nameWidth(job.stages);
    // A running stage past the cursor means the stages before it were passed over: never wait on them.
    const runningIndex = running(job)?.index ?? -1;
    while (printed < job.stages.length) {
      const stage = job.stages[printed] as JobStage;
      const done = stage.status === 'succeeded' || stage.status === 'failed' || stage.status === 'skipped';
      if (done) stream.write(`${stageLine(stage, width, paint)}\n`);
      else if (!(finishing || printed < runningIndex)) break;
      printed += 1;
    }
  };

  return {
    update(job) {
      latest = job;
      eraseSpinner();
      printFinished(job, false);
      if (options.tty && running(job)) {
        drawSpinner();
        timer ??= setInterval(drawSpinner, redrawMs);
      } else if (timer) {
        clearInterval(timer);
        timer = undefined;
      }
    },
    stop(job) {
      if (timer) clearInterval(timer);
      timer = undefined;
      eraseSpinner();
      if (job) printFinished(job, true);
    },
  };
}
