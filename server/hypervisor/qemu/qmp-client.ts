import { connect, type Socket } from 'node:net';
import { formatQmpCommand, parseQmpMessage, QmpLineSplitter } from './qmp-protocol.js';

export type QmpErrorKind = 'connect' | 'timeout' | 'closed' | 'protocol' | 'command' | 'aborted';

export class QmpError extends Error {
  constructor(
    message: string,
    readonly kind: QmpErrorKind,
    /** QEMU's error class for kind 'command', e.g. CommandNotFound. */
    readonly errorClass?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'QmpError';
  }
}

export interface QmpConnectOptions {
  /** Covers connecting, the greeting and capability negotiation. Default 5 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

interface Pending {
  command: string;
  resolve(value: unknown): void;
  reject(error: QmpError): void;
  timer: NodeJS.Timeout;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
const DEFAULT_COMMAND_TIMEOUT_MS = 5000;

/**
 * A minimal QMP client: one connection, commands matched to answers by id,
 * events dropped. QEMU serves one QMP client per socket at a time and makes the
 * next one wait without a greeting, so hold a client only as long as needed.
 */
export class QmpClient {
  private readonly pending = new Map<string, Pending>();
  private nextId = 1;
  private closedError: QmpError | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly socketPath: string,
  ) {}

  static connect(socketPath: string, options: QmpConnectOptions = {}): Promise<QmpClient> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(new QmpError(`QMP connection to ${socketPath} was cancelled`, 'aborted'));

    return new Promise((resolve, reject) => {
      const socket = connect(socketPath);
      const client = new QmpClient(socket, socketPath);
      const splitter = new QmpLineSplitter();
      let phase: 'greeting' | 'capabilities' | 'ready' = 'greeting';
      const capabilitiesId = 'capabilities';

      const fail = (error: QmpError): void => {
        if (phase === 'ready') return;
        phase = 'ready';
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.destroy();
        reject(error);
      };
      const onAbort = (): void => fail(new QmpError(`QMP connection to ${socketPath} was cancelled`, 'aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      // A connection that is accepted but never greeted means another client holds the monitor.
      const timer = setTimeout(
        () => fail(new QmpError(`no QMP handshake on ${socketPath} within ${timeoutMs} ms (is another client connected?)`, 'timeout')),
        timeoutMs,
      );

      socket.setEncoding('utf8');
      socket.on('error', (error: NodeJS.ErrnoException) => {
        const problem = new QmpError(`QMP socket ${socketPath}: ${error.code ?? error.message}`, phase === 'ready' ? 'closed' : 'connect', undefined, { cause: error });
        if (phase !== 'ready') fail(problem);
        else client.closeWith(problem);
      });
      socket.on('close', () => {
        if (phase !== 'ready') fail(new QmpError(`QMP socket ${socketPath} closed during the handshake`, 'closed'));
        else client.closeWith(new QmpError(`QMP connection to ${socketPath} closed`, 'closed'));
      });
      socket.on('data', (chunk: string) => {
        let lines: string[];
        try {
          lines = splitter.push(chunk);
        } catch (error) {
          const problem = new QmpError(`QMP socket ${socketPath}: ${(error as Error).message}`, 'protocol');
          if (phase !== 'ready') fail(problem);
          else client.closeWith(problem);
          return;
        }
        for (const line of lines) {
          const message = parseQmpMessage(line);
          if (message === null || message.kind === 'event') continue;
          if (phase === 'greeting') {
            if (message.kind !== 'greeting') {
              fail(new QmpError(`QMP socket ${socketPath} sent no greeting`, 'protocol'));
              return;
            }
            phase = 'capabilities';
            socket.write(formatQmpCommand('qmp_capabilities', undefined, capabilitiesId));
          } else if (phase === 'capabilities') {
            if (message.kind === 'error') {
              fail(new QmpError(`QMP capability negotiation failed: ${message.description}`, 'protocol', message.errorClass));
              return;
            }
            if (message.kind === 'return' && message.id === capabilitiesId) {
              phase = 'ready';
              clearTimeout(timer);
              signal?.removeEventListener('abort', onAbort);
              resolve(client);
            }
          } else {
            client.dispatch(message);
          }
        }
      });
    });
  }

  /** Runs one command and resolves with its "return" value. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, options: { timeoutMs?: number } = {}): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = `c${this.nextId++}`;
    const timeoutMs = options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new QmpError(`QMP ${command} on ${this.socketPath} got no answer within ${timeoutMs} ms`, 'timeout'));
      }, timeoutMs);
      this.pending.set(id, { command, resolve: resolve as (value: unknown) => void, reject, timer });
      this.socket.write(formatQmpCommand(command, args, id));
    });
  }

  close(): void {
    this.closeWith(new QmpError(`QMP connection to ${this.socketPath} closed`, 'closed'));
  }

  private dispatch(message: ReturnType<typeof parseQmpMessage>): void {
    if (message === null || (message.kind !== 'return' && message.kind !== 'error') || message.id === undefined) return;
    const waiting = this.pending.get(message.id);
    if (!waiting) return;
    this.pending.delete(message.id);
    clearTimeout(waiting.timer);
    if (message.kind === 'return') waiting.resolve(message.value);
    else waiting.reject(new QmpError(`QMP ${waiting.command} failed: ${message.description}`, 'command', message.errorClass));
  }

  private closeWith(error: QmpError): void {
    if (this.closedError) return;
    this.closedError = error;
    this.socket.destroy();
    for (const waiting of this.pending.values()) {
      clearTimeout(waiting.timer);
      waiting.reject(error);
    }
    this.pending.clear();
  }
}

/** Connects, runs fn, and always disconnects so the monitor is free for the next client. */
export async function withQmp<T>(socketPath: string, fn: (client: QmpClient) => Promise<T>, options: QmpConnectOptions = {}): Promise<T> {
  const client = await QmpClient.connect(socketPath, options);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}
