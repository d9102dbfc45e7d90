import type { JobStage } from '../types.js';
import { formatDuration } from './format.js';

const colours = { green: 32, red: 31, yellow: 33, dim: 2, cyan: 36 } as const;
type Colour = keyof typeof colours;

export type Paint = (text: string, colour: Colour) => string;

export const plain: Paint = (text) => text;
export const ansi: Paint = (text, colour) => `\x1b[${colours[colour]}m${text}\x1b[0m`;

/** Colour only for a terminal, and never against the user's NO_COLOR wish. */
export function paintFor(tty: boolean, env: NodeJS.ProcessEnv = process.env): Paint {
  return tty && env.NO_COLOR === undefined ? ansi : plain;
}

/** `✓ copy_rootfs  0.8s`; `width` aligns the second column across a job's stages. */
export function stageLine(stage: JobStage, width: number, paint: Paint, running: { now?: number; symbol?: string } = {}): string {
  const now = running.now ?? Date.now();
  const name = stage.name.padEnd(width);
  switch (stage.status) {
    case 'succeeded':
      return `${paint('✓', 'green')} ${name}  ${formatDuration(stage.durationMs ?? 0)}`;
    case 'skipped':
      return `${paint('–', 'dim')} ${name}  ${paint(stage.detail ? `skipped: ${stage.detail}` : 'skipped', 'dim')}`;
    case 'failed':
      return `${paint('✗', 'red')} ${name}  ${paint('failed', 'red')}`;
    case 'cancelled':
      return `${paint('✗', 'yellow')} ${name}  ${paint('cancelled', 'yellow')}`;
    case 'running':
      return `${paint(running.symbol ?? '…', 'cyan')} ${name}  ${stage.startedAt ? formatDuration(now - Date.parse(stage.startedAt)) : ''}`.trimEnd();
    case 'pending':
      return `${paint('·', 'dim')} ${name}  ${paint('pending', 'dim')}`;
  }
}

export function nameWidth(stages: JobStage[]): number {
  return Math.max(0, ...stages.map((stage) => stage.name.length));
}
