import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { maxServiceLogTailLength } from '../domain/image.js';
import { newGuestSshHostKey, type GuestSshHostKey } from './ssh-host-key.js';

/**
 * Host side of the guest agent protocol (docs/guest-agent.md): one request line
 * `<command> <id> [<arguments>]\n` over a byte stream to the guest (the hypervisor
 * driver says what carries it), answered by one JSON line carrying the same id.
 */

/** A byte stream to the guest agent, whatever carries it: a virtio-serial socket on QEMU, vsock on Firecracker. */
export interface AgentTransport {
  /** For messages, e.g. "unix socket /…/agent.sock". */
  readonly description: string;
  /** Rejects while nothing listens yet; queryAgent then tries again until its deadline. */
  open(): Promise<Duplex>;
}

export const AGENT_PORT_NAME = 'org.banger.agent';
/** The virtio-serial port the guest's SSH server answers on, started by the agent's `shell` request. */
export const SHELL_PORT_NAME = 'org.banger.shell';
export const AGENT_PROTOCOL_VERSION = 4;

export type AgentCommand = 'ping' | 'health' | 'reidentify' | 'shell' | 'services';

/** What `reidentify` asks of a guest restored from a memory snapshot. */
export interface ReidentifyArguments {
  /** The VM's own name: an RFC 1123 label (letters, digits, inner hyphens; up to 63). */
  hostname: string;
  /** The host's clock, milliseconds since the epoch. */
  unixMs: number;
  /** 32 to 256 bytes, hex, mixed into the guest's RNG. */
  entropyHex: string;
  /** The guest's new SSH host key (agent version 2); without it a guest with sshd makes its own. */
  sshHostKey?: GuestSshHostKey;
}

/** What `shell` asks: an SSH server on the shell port for the host connection named by token (agent version 3). */
export interface ShellArguments {
  /** Hex, up to 64 characters; the same for every resend of one host connection's request. */
  token: string;
}

/** The arguments each command takes on its request line. */
export interface AgentArguments {
  ping: undefined;
  health: undefined;
  reidentify: ReidentifyArguments;
  shell: ShellArguments;
  services: undefined;
}

export interface AgentPing {
  ok: true;
  id?: string;
}

export interface AgentHealth {
  ok: true;
  id?: string;
  uptimeSeconds: number;
  /** ADDRESS/PREFIX, IPv4 and IPv6, without loopback and link-local ones. */
  addresses: string[];
  hostname: string;
  agentVersion: number;
}

export interface AgentReidentified {
  ok: true;
  id?: string;
  /** The guest kernel's hostname, read back after setting it. */
  hostname: string;
  /** The guest clock, unix seconds, read back after setting it. */
  clockSetTo: number;
  /** Whether the guest made its kernel RNG reseed at once; if not, the mixed-in entropy shows in its output only after the kernel's next periodic reseed (up to a minute). */
  rngReseeded: boolean;
  /** 'discarded' with dropbear (it makes a new key on its next connection); 'none' without an SSH server. */
  sshHostKeys: 'regenerated' | 'discarded' | 'none';
  /** The answer to a resent request the guest had already applied. */
  repeat: boolean;
  /**
   * TCP ports the guest listens on beyond loopback, as the reply was made (agent version 2).
   * A restored guest's services were already running, so these need no wait.
   */
  listening?: number[];
}

export interface AgentShellStarted {
  ok: true;
  id?: string;
  /** Which SSH server answers on the shell port. */
  server: 'openssh' | 'dropbear';
}

export type GuestServiceState = 'running' | 'exited' | 'not_started';

/** One of the image's services, as the guest agent reports it (agent version 4; docs/guest-agent.md, "Services"). */
export interface GuestServiceStatus {
  name: string;
  /** 'exited' also covers a runner killed hard (then exitStatus is null); 'not_started': its runner never ran. */
  state: GuestServiceState;
  /** The TCP port the image declared for it. */
  port: number | null;
  /** Whether something listens on that port beyond loopback; null without a port. */
  listening: boolean | null;
  /** The command's exit status (128 + the signal's number when a signal ended it); null unless it exited and the status was recorded. */
  exitStatus: number | null;
  /** For an exited service, the last 20 lines of its log, each cut to 300 bytes, joined by '\n'; '' for an empty or missing log; else null. */
  logTail: string | null;
}

export interface AgentServices {
  ok: true;
  id?: string;
  /** Sorted by name; empty for an image without services. */
  services: GuestServiceStatus[];
}

export interface AgentReplies {
  ping: AgentPing;
  health: AgentHealth;
  reidentify: AgentReidentified;
  shell: AgentShellStarted;
  services: AgentServices;
}

export class AgentError extends Error {
  constructor(
    message: string,
    readonly code: 'timeout' | 'aborted' | 'refused',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AgentError';
  }
}

const ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
const HOSTNAME_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const SHELL_TOKEN_PATTERN = /^[0-9a-f]{1,64}$/;
/** The service names the image build accepts. */
const SERVICE_NAME_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;
/** The agent reports at most this many services. */
const MAX_SERVICES = 256;
const ENTROPY_PATTERN = /^(?:[0-9A-Fa-f]{2}){32,256}$/;
// What the agent's valid_ssh_host_key accepts: "openssh-key-v1" and "ssh-ed25519" encoded.
const SSH_PRIVATE_KEY_PATTERN = /^b3BlbnNzaC1rZXktdjE[A-Za-z0-9+/=]{1,1005}$/;
const SSH_PUBLIC_KEY_PATTERN = /^AAAAC3NzaC1lZDI1NTE5[A-Za-z0-9+/=]{1,236}$/;
/** The guest reads at most 15 digits, which its shell arithmetic handles. */
const MAX_UNIX_MS = 999_999_999_999_999;

type RequestArguments<C extends AgentCommand> = AgentArguments[C] extends undefined ? [] : [args: AgentArguments[C]];

/** Throws on anything the guest would refuse, so that a bad request fails before it is sent. */
export function formatAgentRequest<C extends AgentCommand>(command: C, id: string, ...args: RequestArguments<C>): string {
  return requestLine(command, id, args[0]);
}

function requestLine(command: AgentCommand, id: string, args: AgentArguments[AgentCommand]): string {
  if (!ID_PATTERN.test(id)) throw new Error(`invalid agent request id: ${JSON.stringify(id)}`);
  if (command === 'ping' || command === 'health' || command === 'services') return `${command} ${id}\n`;
  if (args === undefined) throw new Error(`${command} needs its arguments`);
  if ('token' in args) {
    if (!SHELL_TOKEN_PATTERN.test(args.token)) throw new Error('invalid shell token: 1 to 64 lowercase hex digits');
    return `${command} ${id} ${args.token}\n`;
  }
  const { hostname, unixMs, entropyHex, sshHostKey } = args;
  if (!HOSTNAME_PATTERN.test(hostname)) throw new Error(`invalid guest hostname ${JSON.stringify(hostname)}: an RFC 1123 label of up to 63 letters, digits and inner hyphens`);
  if (!Number.isSafeInteger(unixMs) || unixMs < 1 || unixMs > MAX_UNIX_MS) throw new Error(`invalid guest time ${unixMs}: positive whole milliseconds since the epoch, at most 15 digits`);
  if (!ENTROPY_PATTERN.test(entropyHex)) throw new Error(`invalid guest entropy: 32 to 256 bytes as hex, got ${entropyHex.length} characters`);
  if (sshHostKey === undefined) return `${command} ${id} ${hostname} ${unixMs} ${entropyHex}\n`;
  if (!SSH_PRIVATE_KEY_PATTERN.test(sshHostKey.privateKeyBase64) || !SSH_PUBLIC_KEY_PATTERN.test(sshHostKey.publicKeyBase64)) {
    throw new Error('invalid guest SSH host key: an unencrypted OpenSSH Ed25519 key, base64, as newGuestSshHostKey makes');
  }
  return `${command} ${id} ${hostname} ${unixMs} ${entropyHex} ${sshHostKey.privateKeyBase64} ${sshHostKey.publicKeyBase64}\n`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses and checks one reply line. Returns null for anything that is not a
 * well-formed reply to `command`, since the stream can carry leftovers (a reply
 * to an earlier connection's request, or noise from a half-sent line).
 */
export function parseAgentReply<C extends AgentCommand>(command: C, line: string): AgentReplies[C] | { ok: false; id?: string; error: string } | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (!isRecord(value) || typeof value.ok !== 'boolean') return null;
  const id = typeof value.id === 'string' ? value.id : undefined;
  if (value.ok === false) {
    return { ok: false, ...(id === undefined ? {} : { id }), error: typeof value.error === 'string' ? value.error : 'unknown error' };
  }
  const fields = replyFields[command](value);
  if (fields === null) return null;
  return { ok: true, ...(id === undefined ? {} : { id }), ...fields } as AgentReplies[C];
}

type ReplyFields<C extends AgentCommand> = Omit<AgentReplies[C], 'ok' | 'id'>;

/** Each command's fields of a successful reply, or null when one is missing or mistyped. */
const replyFields: { [C in AgentCommand]: (value: Record<string, unknown>) => ReplyFields<C> | null } = {
  ping: () => ({}),
  health: ({ uptimeSeconds, addresses, hostname, agentVersion }) => {
    if (
      typeof uptimeSeconds !== 'number' ||
      !Array.isArray(addresses) ||
      !addresses.every((address) => typeof address === 'string') ||
      typeof hostname !== 'string' ||
      typeof agentVersion !== 'number'
    ) {
      return null;
    }
    return { uptimeSeconds, addresses: addresses as string[], hostname, agentVersion };
  },
  shell: ({ server }) => (server === 'openssh' || server === 'dropbear' ? { server } : null),
  services: ({ services }) => {
    if (!Array.isArray(services) || services.length > MAX_SERVICES) return null;
    const parsed: GuestServiceStatus[] = [];
    for (const entry of services) {
      const service = guestServiceStatus(entry);
      if (service === null) return null;
      parsed.push(service);
    }
    return { services: parsed };
  },
  reidentify: ({ hostname, clockSetTo, rngReseeded, sshHostKeys, repeat, listening }) => {
    const ports = listening === undefined ? undefined : tcpPorts(listening);
    if (
      ports === null ||
      typeof hostname !== 'string' ||
      typeof clockSetTo !== 'number' ||
      !Number.isSafeInteger(clockSetTo) ||
      typeof rngReseeded !== 'boolean' ||
      (sshHostKeys !== 'regenerated' && sshHostKeys !== 'discarded' && sshHostKeys !== 'none') ||
      typeof repeat !== 'boolean'
    ) {
      return null;
    }
    return { hostname, clockSetTo, rngReseeded, sshHostKeys, repeat, ...(ports === undefined ? {} : { listening: ports }) };
  },
};

function guestServiceStatus(value: unknown): GuestServiceStatus | null {
  if (!isRecord(value)) return null;
  const { name, state, port, listening, exitStatus, logTail } = value;
  if (
    typeof name !== 'string' ||
    !SERVICE_NAME_PATTERN.test(name) ||
    (state !== 'running' && state !== 'exited' && state !== 'not_started') ||
    !(port === null || (Number.isInteger(port) && (port as number) >= 1 && (port as number) <= 65_535)) ||
    !(listening === null || typeof listening === 'boolean') ||
    !(exitStatus === null || (Number.isInteger(exitStatus) && (exitStatus as number) >= 0 && (exitStatus as number) <= 255)) ||
    !(logTail === null || (typeof logTail === 'string' && logTail.length <= maxServiceLogTailLength))
  ) {
    return null;
  }
  return { name, state, port: port as number | null, listening, exitStatus: exitStatus as number | null, logTail };
}

function tcpPorts(value: unknown): number[] | null {
  if (!Array.isArray(value) || value.length > 65_535) return null;
  return value.every((port) => Number.isInteger(port) && port >= 1 && port <= 65_535) ? (value as number[]) : null;
}

interface QueryAgentBaseOptions<C extends AgentCommand> {
  /** Default 'health'. */
  command?: C;
  /** Overall limit, covering QEMU not listening yet and the guest still booting. Default 30 s. */
  timeoutMs?: number;
  /** How long one request may go unanswered before it is sent again. Default 1 s. */
  resendMs?: number;
  signal?: AbortSignal;
}

export type QueryAgentOptions<C extends AgentCommand> = QueryAgentBaseOptions<C> &
  (AgentArguments[C] extends undefined
    ? { args?: undefined }
    : {
        /** A function is called for every request sent, so that a resend can carry fresher values (the time). */
        args: AgentArguments[C] | (() => AgentArguments[C]);
      });

const RETRY_CONNECT_MS = 100;
/**
 * Longer partial lines are dropped as noise. A services reply carries up to 20 log lines of 300
 * bytes (doubled at worst by escaping) for each of up to 256 services: about 3 MiB.
 */
const MAX_LINE = 4 * 1024 * 1024;

/**
 * Asks the guest agent behind the transport and returns its reply, retrying until it
 * answers or timeoutMs passes. Requests are resent because the guest discards
 * what arrives before the agent opens its port; every request carries a fresh id
 * and any of them may be answered. A virtio-serial port serves one client at a
 * time, so callers should not query the same VM concurrently.
 */
export async function queryAgent<C extends AgentCommand = 'health'>(
  transport: AgentTransport,
  options: QueryAgentOptions<C> = {} as QueryAgentOptions<C>,
): Promise<AgentReplies[C]> {
  const command = (options.command ?? 'health') as C;
  const { args } = options as { args?: AgentArguments[C] | (() => AgentArguments[C]) };
  const request = (id: string): string => requestLine(command, id, typeof args === 'function' ? args() : args);
  // A request the guest would refuse fails here, before any connection.
  request('check');
  const timeoutMs = options.timeoutMs ?? 30_000;
  const resendMs = options.resendMs ?? 1000;
  const deadline = Date.now() + timeoutMs;
  const { signal } = options;
  let lastProblem = 'no answer';

  const aborted = (): AgentError => new AgentError(`agent query over ${transport.description} was cancelled`, 'aborted', { cause: signal?.reason });

  while (Date.now() < deadline) {
    if (signal?.aborted) throw aborted();
    const outcome = await attempt(transport, command, request, deadline, resendMs, signal);
    if (outcome.kind === 'reply') return outcome.reply;
    if (outcome.kind === 'aborted') throw aborted();
    if (outcome.kind === 'invalid') throw outcome.error;
    if (outcome.kind === 'refused') {
      throw new AgentError(`guest agent over ${transport.description} refused ${command}: ${outcome.error}`, 'refused');
    }
    lastProblem = outcome.problem;
    const wait = Math.min(RETRY_CONNECT_MS, deadline - Date.now());
    if (wait > 0) await sleep(wait, signal);
  }
  throw new AgentError(`guest agent over ${transport.description} did not answer ${command} within ${timeoutMs} ms (${lastProblem})`, 'timeout');
}

type AttemptOutcome<C extends AgentCommand> =
  | { kind: 'reply'; reply: AgentReplies[C] }
  | { kind: 'refused'; error: string }
  | { kind: 'retry'; problem: string }
  | { kind: 'invalid'; error: unknown }
  | { kind: 'aborted' };

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** One connection: resend the request until a matching reply, the deadline, or the stream closes. */
async function attempt<C extends AgentCommand>(
  transport: AgentTransport,
  command: C,
  request: (id: string) => string,
  deadline: number,
  resendMs: number,
  signal: AbortSignal | undefined,
): Promise<AttemptOutcome<C>> {
  let stream: Duplex;
  try {
    stream = await transport.open();
  } catch (error) {
    // ENOENT/ECONNREFUSED: the hypervisor has not created the channel yet, or is gone.
    const code = (error as NodeJS.ErrnoException).code;
    return { kind: 'retry', problem: `${code ?? 'error'}: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (signal?.aborted) {
    stream.destroy();
    return { kind: 'aborted' };
  }
  return new Promise((resolve) => {
    const sent = new Set<string>();
    let buffered = '';
    let settled = false;
    let resendTimer: NodeJS.Timeout | undefined;
    const deadlineTimer = setTimeout(() => finish({ kind: 'retry', problem: 'no answer' }), Math.max(0, deadline - Date.now()));

    function finish(outcome: AttemptOutcome<C>): void {
      if (settled) return;
      settled = true;
      clearTimeout(deadlineTimer);
      clearInterval(resendTimer);
      signal?.removeEventListener('abort', onAbort);
      stream.destroy();
      resolve(outcome);
    }
    function onAbort(): void {
      finish({ kind: 'aborted' });
    }
    signal?.addEventListener('abort', onAbort, { once: true });

    const send = (): void => {
      const id = randomBytes(6).toString('hex');
      let line: string;
      try {
        // Arguments computed per send may turn out invalid only now.
        line = request(id);
      } catch (error) {
        finish({ kind: 'invalid', error });
        return;
      }
      sent.add(id);
      stream.write(line);
    };

    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        const reply = parseAgentReply(command, line);
        if (reply === null || reply.id === undefined || !sent.has(reply.id)) continue;
        if (reply.ok) finish({ kind: 'reply', reply: reply as AgentReplies[C] });
        else finish({ kind: 'refused', error: reply.error });
        return;
      }
      if (buffered.length > MAX_LINE) buffered = '';
    });
    stream.on('error', (error: NodeJS.ErrnoException) => finish({ kind: 'retry', problem: `${error.code ?? 'error'}: ${error.message}` }));
    stream.on('close', () => finish({ kind: 'retry', problem: 'connection closed' }));
    send();
    resendTimer = setInterval(send, resendMs);
  });
}

/**
 * A hostname reidentify accepts, made from a VM name, which may also hold `.`
 * and `_`: those become `-`, and hyphens that would start or end it go.
 */
export function guestHostnameFor(name: string): string {
  const label = name
    .replace(/[^A-Za-z0-9-]/g, '-')
    .slice(0, 63)
    .replace(/^-+|-+$/g, '');
  return label === '' ? 'banger' : label;
}

export interface ReidentifyGuestOptions {
  /** The guest's new hostname, an RFC 1123 label; see guestHostnameFor. */
  hostname: string;
  /**
   * The time to give the guest, as of this call; default the host's clock. Each
   * (re)sent request carries it advanced by the time since the call, so that a
   * resend the guest applies late does not set its clock back.
   */
  now?: Date;
  /** Mixed into the guest's RNG; default 32 bytes from node:crypto. 32 to 256 bytes. */
  entropy?: Buffer;
  /** The SSH host key a guest with sshd gets; default a new one (newGuestSshHostKey). */
  sshHostKey?: GuestSshHostKey;
  timeoutMs?: number;
  resendMs?: number;
  signal?: AbortSignal;
}

/**
 * Makes a VM restored from a memory snapshot its own machine: hostname, clock,
 * fresh RNG input and, where sshd runs, new SSH host keys (docs/guest-agent.md,
 * reidentify). Throws an AgentError ('refused') when the guest refuses or its
 * reply shows a hostname or clock other than the ones sent.
 */
export async function reidentifyGuest(transport: AgentTransport, options: ReidentifyGuestOptions): Promise<AgentReidentified> {
  const called = Date.now();
  const base = options.now?.getTime() ?? called;
  const entropyHex = (options.entropy ?? randomBytes(32)).toString('hex');
  const at = (): number => Math.round(base + Date.now() - called);
  const deadline = called + (options.timeoutMs ?? 30_000);
  const ask = (sshHostKey: GuestSshHostKey | undefined): Promise<AgentReidentified> =>
    queryAgent(transport, {
      command: 'reidentify',
      args: () => ({ hostname: options.hostname, unixMs: at(), entropyHex, ...(sshHostKey ? { sshHostKey } : {}) }),
      timeoutMs: Math.max(1, deadline - Date.now()),
      resendMs: options.resendMs,
      signal: options.signal,
    });
  let reply: AgentReidentified;
  try {
    reply = await ask(options.sshHostKey ?? newGuestSshHostKey());
  } catch (error) {
    // Agents before version 2 (images built earlier) take no key, refuse the longer request, and make their own.
    if (!(error instanceof AgentError && error.code === 'refused' && /usage: reidentify ID HOSTNAME UNIX_MS ENTROPY_HEX"?$/.test(error.message))) throw error;
    reply = await ask(undefined);
  }
  const refused = (what: string): AgentError => new AgentError(`guest agent over ${transport.description} did not reidentify: ${what}`, 'refused');
  if (reply.hostname !== options.hostname) {
    throw refused(`its hostname is ${JSON.stringify(reply.hostname)}, not ${JSON.stringify(options.hostname)}`);
  }
  // The guest sets whole seconds and reads its clock back just after.
  const earliest = Math.floor(base / 1000) - 1;
  const latest = Math.ceil(at() / 1000) + 1;
  if (reply.clockSetTo < earliest || reply.clockSetTo > latest) {
    throw refused(`its clock reads ${reply.clockSetTo}, not between ${earliest} and ${latest}`);
  }
  return reply;
}
