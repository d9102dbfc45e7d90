import { RunError } from '../../host/runner.js';

/**
 * Running apt, dpkg and mmdebstrap for a tree: inside private namespaces, and
 * with apt's own error lines as the failure message.
 */

const WRAPPER_ERRORS = /^E: (setup failed|mmdebstrap failed|.* failed$)/;
const SUMMARY_CHARS = 500;

/**
 * apt's and dpkg's own error lines ("E: Unable to locate package nosuch") from a
 * failed run's output, without the wrapper's generic ones; null if there are none.
 */
export function aptErrorSummary(output: string): string | null {
  const lines: string[] = [];
  for (const rawLine of output.split('\n')) {
    const line = rawLine.trim();
    if (!line.startsWith('E: ') || WRAPPER_ERRORS.test(line) || lines.includes(line)) continue;
    lines.push(line);
  }
  if (lines.length === 0) return null;
  const text = lines.join('; ');
  return text.length > SUMMARY_CHARS ? `${text.slice(0, SUMMARY_CHARS)}…` : text;
}

/**
 * Arguments that run a command as PID 1 of new mount and PID namespaces. Mounts
 * it makes (mmdebstrap mounts /proc, /sys and /dev into the tree) never reach
 * the host's mount table and vanish with it, even when it is killed before it
 * can clean up; and when it dies the kernel kills everything it started.
 */
export function privateNamespaceArgs(procMount?: string): string[] {
  return [
    '--mount',
    '--propagation',
    'private',
    '--pid',
    '--fork',
    // If unshare itself is killed, its child must not live on.
    '--kill-child',
    procMount === undefined ? '--mount-proc' : `--mount-proc=${procMount}`,
    '--',
  ];
}

/**
 * The same failure with apt's own error lines as its message: mmdebstrap ends
 * with a generic "mmdebstrap failed to run", while the cause ("E: Unable to
 * locate package …") is further up in stderr.
 */
export function withAptMessage(error: unknown, name?: string): unknown {
  if (!(error instanceof RunError) || error.reason !== 'exit') return error;
  const summary = aptErrorSummary(error.stderr);
  if (summary === null) return error;
  // Commands run through privateNamespaceArgs are named after the `--`.
  const separator = error.args.indexOf('--');
  const command = name ?? (error.command === 'unshare' && separator >= 0 ? (error.args[separator + 1] ?? error.command) : error.command);
  return new RunError(`${command} failed: ${summary}`, {
    command: error.command,
    args: error.args,
    exitCode: error.exitCode,
    signal: error.signal,
    stderr: error.stderr,
    stdout: error.stdout,
    reason: error.reason,
    cause: error,
  });
}
