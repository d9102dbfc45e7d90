import { connect, createServer } from 'node:net';

/**
 * Whether a published guest port really serves, seen from the host.
 *
 * A user-mode NAT forward (QEMU's hostfwd) accepts on the host port whatever the guest does,
 * then closes that connection once the guest refuses it. So "the connect succeeded" means
 * nothing: the port counts as open when the server sends something (an SSH banner, say) or
 * the connection is still up after `holdMs` (a server that waits for the client to speak).
 */
export type ProbeOutcome = 'open' | 'refused' | 'closed' | 'timeout';

export interface ProbeOptions {
  host?: string;
  /** How long an accepted, silent connection must stay up to count as open. Default 1000. */
  holdMs?: number;
  /** How long the TCP connect itself may take. Default 2000. */
  connectTimeoutMs?: number;
  signal?: AbortSignal;
}

export function probeTcpPort(port: number, options: ProbeOptions = {}): Promise<ProbeOutcome> {
  const holdMs = options.holdMs ?? 1000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 2000;
  return new Promise((resolve) => {
    let settled = false;
    let connected = false;
    const socket = connect({ host: options.host ?? '127.0.0.1', port });
    const finish = (outcome: ProbeOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(outcome);
    };
    const onAbort = (): void => finish('timeout');
    let timer = setTimeout(() => finish('timeout'), connectTimeoutMs);
    socket.once('connect', () => {
      connected = true;
      clearTimeout(timer);
      timer = setTimeout(() => finish('open'), holdMs);
    });
    socket.once('data', () => finish('open'));
    socket.once('end', () => finish('closed'));
    socket.once('close', () => finish(connected ? 'closed' : 'refused'));
    socket.once('error', (error: NodeJS.ErrnoException) => finish(connected ? 'closed' : error.code === 'ECONNREFUSED' ? 'refused' : 'closed'));
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface WaitForPortsOptions extends ProbeOptions {
  timeoutMs: number;
  /** Pause between rounds of probes. Default 250 ms. */
  intervalMs?: number;
  /** Called once for each port the moment it is seen open. */
  onOpen?: (port: number, afterMs: number) => void;
}

/** Resolves with the ports still not open when the time ran out (empty: all open). */
export async function waitForPorts(ports: number[], options: WaitForPortsOptions): Promise<{ pending: number[]; last: Map<number, ProbeOutcome> }> {
  const started = Date.now();
  const pending = new Set(ports);
  const last = new Map<number, ProbeOutcome>();
  const intervalMs = options.intervalMs ?? 250;
  while (pending.size > 0) {
    if (options.signal?.aborted) throw options.signal.reason;
    const round = await Promise.all([...pending].map(async (port) => [port, await probeTcpPort(port, options)] as const));
    for (const [port, outcome] of round) {
      last.set(port, outcome);
      if (outcome === 'open') {
        pending.delete(port);
        options.onOpen?.(port, Date.now() - started);
      }
    }
    if (pending.size === 0 || Date.now() - started >= options.timeoutMs) break;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  if (options.signal?.aborted) throw options.signal.reason;
  return { pending: [...pending], last };
}

/** Whether nothing on this host listens on 127.0.0.1:port right now. */
export function hostPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
