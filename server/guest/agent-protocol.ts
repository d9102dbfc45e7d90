import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';

/**
 * Host side of the guest agent protocol (docs/guest-agent.md): one request line
 * `<command> <id>\n` over a byte stream to the guest (the hypervisor driver says
 * what carries it), answered by one JSON line carrying the same id.
 */

/** A byte stream to the guest agent, whatever carries it: a virtio-serial socket on QEMU, vsock on Firecracker. */
export interface AgentTransport {
  /** For messages, e.g. "unix socket /…/agent.sock". */
  readonly description: string;
  /** Rejects while nothing listens yet; queryAgent then tries again until its deadline. */
  open(): Promise<Duplex>;
}

export const AGENT_PORT_NAME = 'org.banger.agent';
export const AGENT_PROTOCOL_VERSION = 1;

export type AgentCommand = 'ping' | 'health';

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

export interface AgentReplies {
  ping: AgentPing;
  health: AgentHealth;
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

export function formatAgentRequest(command: AgentCommand, id: string): string {
  if (!ID_PATTERN.test(id)) throw new Error(`invalid agent request id: ${JSON.stringify(id)}`);
  return `${command} ${id}\n`;
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
  if (command === 'ping') return { ok: true, ...(id === undefined ? {} : { id }) } as AgentReplies[C];
  const { uptimeSeconds, addresses, hostname, agentVersion } = value;
  if (
    typeof uptimeSeconds !== 'number' ||
    !Array.isArray(addresses) ||
    !addresses.every((address) => typeof address === 'string') ||
    typeof hostname !== 'string' ||
    typeof agentVersion !== 'number'
  ) {
    return null;
  }
  const health: AgentHealth = { ok: true, uptimeSeconds, addresses: addresses as string[], hostname, agentVersion };
  if (id !== undefined) health.id = id;
  return health as AgentReplies[C];
}

export interface QueryAgentOptions<C extends AgentCommand> {
  /** Default 'health'. */
  command?: C;
  /** Overall limit, covering QEMU not listening yet and the guest still booting. Default 30 s. */
  timeoutMs?: number;
  /** How long one request may go unanswered before it is sent again. Default 1 s. */
  resendMs?: number;
  signal?: AbortSignal;
}

const RETRY_CONNECT_MS = 100;
const MAX_LINE = 64 * 1024;

/**
 * Asks the guest agent behind the transport and returns its reply, retrying until it
 * answers or timeoutMs passes. Requests are resent because the guest discards
 * what arrives before the agent opens its port; every request carries a fresh id
 * and any of them may be answered. A virtio-serial port serves one client at a
 * time, so callers should not query the same VM concurrently.
 */
export async function queryAgent<C extends AgentCommand = 'health'>(
  transport: AgentTransport,
  options: QueryAgentOptions<C> = {},
): Promise<AgentReplies[C]> {
  const command = (options.command ?? 'health') as C;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const resendMs = options.resendMs ?? 1000;
  const deadline = Date.now() + timeoutMs;
  const { signal } = options;
  let lastProblem = 'no answer';

  const aborted = (): AgentError => new AgentError(`agent query over ${transport.description} was cancelled`, 'aborted', { cause: signal?.reason });

  while (Date.now() < deadline) {
    if (signal?.aborted) throw aborted();
    const outcome = await attempt(transport, command, deadline, resendMs, signal);
    if (outcome.kind === 'reply') return outcome.reply;
    if (outcome.kind === 'aborted') throw aborted();
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
      sent.add(id);
      stream.write(formatAgentRequest(command, id));
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
