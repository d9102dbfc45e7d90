import { UsageError } from './output.js';
import type { Job } from '../types.js';

/** `vm web`, or for a job over a selection `vm label ci-run=4711 (3 selected)`. */
export function formatTarget(job: Job): string {
  const { target } = job;
  if ('id' in target) return `${target.type} ${target.name ?? target.id}`;
  return `${target.type} ${target.name} (${job.targets.length} selected)`;
}

/** 0.8s, 12.3s, 2m05s, 1h02m: precise while short, readable when long. */
export function formatDuration(ms: number): string {
  const clamped = Math.max(0, ms);
  if (clamped < 60_000) return `${(clamped / 1000).toFixed(1)}s`;
  const totalSeconds = Math.round(clamped / 1000);
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  if (hours > 0) return `${hours}h${String(minutes).padStart(2, '0')}m`;
  return `${minutes}m${String(seconds).padStart(2, '0')}s`;
}

/** Between two ISO timestamps; null when either end is unknown. */
export function durationBetween(from: string | null, to: string | null): number | null {
  if (!from || !to) return null;
  return Date.parse(to) - Date.parse(from);
}

/** Local time to the second: tables are read by people on this host. */
export function formatTime(iso: string | null): string {
  if (!iso) return '-';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

export function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}

export function orDash(value: string | null | undefined): string {
  return value === null || value === undefined || value === '' ? '-' : value;
}

/** A flag's value as a whole number, or undefined when the flag was not given. */
export function wholeNumber(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text.trim())) throw new UsageError(`${flag} expects a whole number, got "${text}"`);
  return Number(text);
}

/** 512 B, 3.4 KiB, 30.0 MiB, 1.2 GiB. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}
