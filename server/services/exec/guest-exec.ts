import { Readable } from 'node:stream';
import type ssh2 from 'ssh2';
import { maxSignalNameLength } from '../../domain/limits.js';
import { killGuestGroup, openCommandChannel } from './guest-command.js';
import { OutputDecoder, type OutputData } from './output-chunks.js';

/**
 * One command running in a guest, as a readable stream of events: output as it comes, then
 * exactly one exit event. The stream pauses the guest's output while its reader is behind
 * (SSH's window stops the guest program's writes), so nothing piles up in the daemon. Destroying
 * the stream early (the HTTP client went away) kills the guest program's process group.
 */

export type ExecEvent =
  | { type: 'started'; execId: string }
  | ({ type: 'output'; stream: 'stdout' | 'stderr' } & OutputData)
  | {
      type: 'exit';
      /** null when a signal ended the program. */
      exitCode: number | null;
      /** e.g. "KILL", without the SIG prefix; null for a normal exit. */
      signal: string | null;
      /** Whether banger killed it because timeoutSeconds passed. */
      timedOut: boolean;
      durationMs: number;
    };

export interface GuestExecOptions {
  execId: string;
  commandLine: string;
  /** Called once the program has ended, with its exec id and whether banger sent it a kill. */
  onEnded?: (execId: string, killed: boolean) => void;
  /**
   * Written to the program's standard input, which is then closed; closed at once when absent.
   * 'stream': left open for pipeStdin.
   */
  stdin?: Buffer | 'stream';
  timeoutMs?: number;
}

// After a kill, how long the guest gets to report the exit before the channel is closed without it.
const KILL_REPORT_MS = 5000;

export class GuestExec extends Readable {
  private channel: ssh2.ClientChannel | undefined;
  private readonly started = performance.now();
  private exitCode: number | null = null;
  private exitSignal: string | null = null;
  private timedOut = false;
  private finished = false;
  private stdinTaken = false;
  private timeout: NodeJS.Timeout | undefined;
  private killReport: NodeJS.Timeout | undefined;
  private killSent = false;
  private readonly decoders = { stdout: new OutputDecoder(), stderr: new OutputDecoder() };

  private constructor(
    private readonly client: ssh2.Client,
    private readonly options: GuestExecOptions,
  ) {
    super({ objectMode: true, highWaterMark: 16 });
  }

  /** Resolves once the guest's SSH server accepted the command; rejects when it refused the channel. */
  static start(client: ssh2.Client, options: GuestExecOptions): Promise<GuestExec> {
    const exec = new GuestExec(client, options);
    return openCommandChannel(client, options.commandLine, (channel) => {
      exec.attach(channel);
      return exec;
    });
  }

  private attach(channel: ssh2.ClientChannel): void {
    this.channel = channel;
    this.push({ type: 'started', execId: this.options.execId } satisfies ExecEvent);
    channel.on('data', (chunk: Buffer) => this.output('stdout', chunk));
    channel.stderr.on('data', (chunk: Buffer) => this.output('stderr', chunk));
    channel.on('exit', (code: number | null, signal?: string) => {
      this.exitCode = typeof code === 'number' ? code : null;
      this.exitSignal = typeof signal === 'string' ? signal.replace(/^SIG/, '').slice(0, maxSignalNameLength) : null;
    });
    channel.on('close', () => this.finish());
    channel.on('error', () => this.finish());
    if (this.options.timeoutMs !== undefined) {
      this.timeout = setTimeout(() => {
        this.timedOut = true;
        this.kill();
      }, this.options.timeoutMs);
    }
    if (this.options.stdin !== 'stream') channel.end(this.options.stdin);
  }

  /** Whether the program waits for pipeStdin: started with stdin 'stream' and not piped yet. */
  get awaitsStdin(): boolean {
    return this.options.stdin === 'stream' && !this.stdinTaken && !this.finished;
  }

  /**
   * Streams source into the program's standard input, then closes it; resolves with the bytes
   * sent. The guest's SSH window holds source back while the program does not read. A source
   * that fails half-way kills the program: it must not take a cut input for all of it.
   */
  async pipeStdin(source: NodeJS.ReadableStream): Promise<number> {
    const channel = this.channel;
    if (!channel || !this.awaitsStdin) throw new Error('this exec takes no streamed stdin');
    this.stdinTaken = true;
    let bytes = 0;
    try {
      for await (const chunk of source) {
        if (this.finished) break;
        const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        bytes += buffer.length;
        if (!channel.write(buffer)) await new Promise<void>((resolve) => {
          const done = (): void => {
            channel.off('drain', done);
            channel.off('close', done);
            resolve();
          };
          channel.on('drain', done);
          channel.on('close', done);
        });
      }
    } catch (error) {
      this.kill();
      throw error;
    }
    if (!this.finished) channel.end();
    return bytes;
  }

  private output(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    const data = this.decoders[stream].write(chunk);
    if (data !== null && !this.push({ type: 'output', stream, ...data } satisfies ExecEvent)) this.pauseOutput();
  }

  private pauseOutput(): void {
    this.channel?.pause();
    this.channel?.stderr.pause();
  }

  override _read(): void {
    this.channel?.resume();
    this.channel?.stderr.resume();
  }

  /** SIGKILL to the program's process group, from a second channel; the exit event follows. */
  private kill(): void {
    const channel = this.channel;
    if (!channel || this.finished || this.killReport) return;
    this.killReport = setTimeout(() => channel.close(), KILL_REPORT_MS);
    this.killSent = true;
    killGuestGroup(this.client, this.options.execId);
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timeout);
    clearTimeout(this.killReport);
    this.options.onEnded?.(this.options.execId, this.killSent);
    for (const stream of ['stdout', 'stderr'] as const) {
      const rest = this.decoders[stream].end();
      if (rest !== null) this.push({ type: 'output', stream, ...rest } satisfies ExecEvent);
    }
    this.push({
      type: 'exit',
      exitCode: this.exitCode,
      signal: this.exitSignal ?? (this.exitCode === null ? 'KILL' : null),
      timedOut: this.timedOut,
      durationMs: Math.round(performance.now() - this.started),
    } satisfies ExecEvent);
    this.push(null);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.finished) {
      // The kill runs on its own channel; this one closes once the guest reports the exit.
      this.kill();
      this.finished = true;
      clearTimeout(this.timeout);
      this.options.onEnded?.(this.options.execId, this.killSent);
    }
    callback(error);
  }
}
