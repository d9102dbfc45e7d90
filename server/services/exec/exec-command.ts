import type { FieldError } from '../errors.js';

/**
 * What a guest command runs as: the SSH exec request's command string, which the guest's login
 * shell (root's) reads. Every value is quoted here, so an argument is always one word and
 * never code; names that the shell would read as code are refused before that.
 */

export interface ExecSpec {
  /** argv; the first word is looked up in the guest's PATH. */
  command: string[];
  env?: Record<string, string>;
  /** Absolute; default root's home (/root, the work disk). */
  cwd?: string;
  /** A guest user to run as instead of root. */
  user?: string;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// What useradd accepts, less the trailing '$' of machine accounts.
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
export const MAX_ARGS = 4096;
export const MAX_COMMAND_BYTES = 256 * 1024;

/** POSIX shell single quotes: everything literal; a quote itself closes, is escaped, and reopens. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Everything wrong with a spec, by field; empty when it can run. */
export function execSpecErrors(spec: ExecSpec): FieldError[] {
  const errors: FieldError[] = [];
  const [program] = spec.command;
  if (program === undefined || program === '') errors.push({ field: 'body.command', message: 'must name a program: a non-empty first word' });
  else if (program.startsWith('-')) errors.push({ field: 'body.command', message: 'the program must not start with "-"' });
  if (spec.command.length > MAX_ARGS) errors.push({ field: 'body.command', message: `at most ${MAX_ARGS} words` });
  if (spec.command.some((word) => word.includes('\0'))) errors.push({ field: 'body.command', message: 'words must not contain NUL bytes' });
  for (const [name, value] of Object.entries(spec.env ?? {})) {
    if (!ENV_NAME.test(name)) errors.push({ field: `body.env.${name}`, message: 'a variable name is letters, digits and _, not starting with a digit' });
    if (value.includes('\0')) errors.push({ field: `body.env.${name}`, message: 'must not contain NUL bytes' });
  }
  if (spec.cwd !== undefined && (!spec.cwd.startsWith('/') || spec.cwd.includes('\0'))) {
    errors.push({ field: 'body.cwd', message: 'must be an absolute path in the guest' });
  }
  if (spec.user !== undefined && !USER_NAME.test(spec.user)) errors.push({ field: 'body.user', message: 'must be a user name: lowercase letters, digits, _ and -' });
  if (errors.length === 0 && Buffer.byteLength(execCommandLine(spec)) > MAX_COMMAND_BYTES) {
    errors.push({ field: 'body.command', message: `command, env and cwd together must stay under ${MAX_COMMAND_BYTES / 1024} KiB` });
  }
  return errors;
}

const EXEC_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Where the guest keeps the process group of a running exec: its leader's pid. */
function groupFile(execId: string): string {
  if (!EXEC_ID.test(execId)) throw new Error(`invalid exec id ${JSON.stringify(execId)}`);
  return `/run/banger-exec.${execId}`;
}

export interface ExecLineOptions {
  execId: string;
  /** Group files of earlier execs that have ended, removed on the way. */
  ended?: string[];
}

/**
 * The command line for the guest's shell. The SSH server starts it in a session and process
 * group of its own; it notes its pid (the group's id) under the exec id, and `exec` makes the
 * program that same process, so the exit status and signal are the program's own, and
 * killCommandLine reaches the program and everything it started. (OpenSSH refuses the SSH
 * "signal" request for root sessions, which run without a privilege-separation monitor.)
 * A cwd that does not exist fails the command with the shell's message and exit code 2.
 */
export function execCommandLine(spec: ExecSpec, options: ExecLineOptions = { execId: 'check' }): string {
  const parts: string[] = [];
  if (options.ended !== undefined && options.ended.length > 0) parts.push(`rm -f ${options.ended.map(groupFile).join(' ')};`);
  parts.push(`echo $$ >${groupFile(options.execId)};`);
  if (spec.cwd !== undefined) parts.push(`cd -- ${shellQuote(spec.cwd)} || exit 2;`);
  for (const [name, value] of Object.entries(spec.env ?? {})) parts.push(`export ${name}=${shellQuote(value)};`);
  const argv = spec.command.map(shellQuote).join(' ');
  // setpriv (util-linux) changes user without PAM, which costs seconds per call under emulation.
  const asUser = spec.user === undefined ? '' : `setpriv --reuid=${spec.user} --regid="$(id -g ${spec.user})" --init-groups -- `;
  parts.push(`exec ${asUser}${argv}`);
  return parts.join(' ');
}

/** Kills a running exec's process group (run over another channel of the same connection). */
export function killCommandLine(execId: string): string {
  const file = groupFile(execId);
  return `read -r group <${file} && kill -KILL -- "-$group"; rm -f ${file}`;
}
