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

/** The guest's SSH server, as the agent reports it: OpenSSH in Debian guests, dropbear in busybox ones. */
export type ShellServer = 'openssh' | 'dropbear';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// What useradd accepts, less the trailing '$' of machine accounts.
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
export const MAX_ARGS = 4096;
/** The longest command line each server runs: OpenSSH's packet size, dropbear's MAX_CMD_LEN. */
export const MAX_COMMAND_BYTES: Readonly<Record<ShellServer, number>> = { openssh: 256 * 1024, dropbear: 9000 };
/**
 * Commands one VM runs at once, under each server's channel limit (sshd's MaxSessions 256 as
 * the agent starts it; dropbear's compiled-in channel count refused the 60-somethingth), with
 * room left for the channels that kill timed-out commands.
 */
export const MAX_CONCURRENT_EXECS: Readonly<Record<ShellServer, number>> = { openssh: 200, dropbear: 48 };

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
  if (errors.length === 0) errors.push(...commandLineErrors(execCommandLine(spec), 'openssh'));
  return errors;
}

/** Whether a command line fits the guest's SSH server; checked again once the server is known. */
export function commandLineErrors(commandLine: string, server: ShellServer): FieldError[] {
  const limit = MAX_COMMAND_BYTES[server];
  if (Buffer.byteLength(commandLine) <= limit) return [];
  const hint = server === 'dropbear' ? ' on this guest (its SSH server is dropbear); pass long input through stdin' : '';
  return [{ field: 'body.command', message: `command, env and cwd together must stay under ${limit} bytes${hint}` }];
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
  /** Default openssh. */
  server?: ShellServer;
}

/**
 * The command line for the guest's shell. The SSH server starts it in a session and process
 * group of its own; it notes its pid (the group's id) under the exec id, and `exec` makes the
 * program that same process, so the exit status and signal are the program's own, and
 * killCommandLine reaches the program and everything it started. (OpenSSH refuses the SSH
 * "signal" request for root sessions, which run without a privilege-separation monitor.)
 * A cwd that does not exist fails the command with the shell's message and exit code 2.
 *
 * dropbear, unlike OpenSSH, leaves the command in its own process group, so there the line
 * first makes the shell a session leader: `setsid` calls setsid(2) in place (no fork, the
 * shell is not a group leader yet) and runs the rest in a new shell of the same pid.
 */
export function execCommandLine(spec: ExecSpec, options: ExecLineOptions = { execId: 'check' }): string {
  const server = options.server ?? 'openssh';
  const parts: string[] = [];
  parts.push(`echo $$ >${groupFile(options.execId)};`);
  if (spec.cwd !== undefined) parts.push(`cd -- ${shellQuote(spec.cwd)} || exit 2;`);
  for (const [name, value] of Object.entries(spec.env ?? {})) parts.push(`export ${name}=${shellQuote(value)};`);
  const argv = spec.command.map(shellQuote).join(' ');
  parts.push(`exec ${spec.user === undefined ? '' : switchUser(spec.user, server)}${argv}`);
  const program = server === 'dropbear' ? `exec setsid /bin/sh -c ${shellQuote(parts.join(' '))}` : parts.join(' ');
  const cleanup = options.ended !== undefined && options.ended.length > 0 ? `rm -f ${options.ended.map(groupFile).join(' ')}; ` : '';
  return cleanup + program;
}

/**
 * The words before the argv that run it as another user, without PAM, which costs seconds per
 * call under emulation: util-linux setpriv in Debian guests; busybox su (no PAM there) runs the
 * argv as "$0" "$@" of a shell, and keeps the environment but HOME, SHELL, USER and LOGNAME.
 */
function switchUser(user: string, server: ShellServer): string {
  if (server === 'dropbear') return `su -s /bin/sh ${user} -c 'exec "$0" "$@"' `;
  return `setpriv --reuid=${user} --regid="$(id -g ${user})" --init-groups -- `;
}

/** Kills a running exec's process group (run over another channel of the same connection). */
export function killCommandLine(execId: string): string {
  const file = groupFile(execId);
  return `read -r group <${file} && kill -KILL -- "-$group"; rm -f ${file}`;
}
