import type { Command } from 'commander';
import { createClient, type BangerClient } from '../client.js';
import { connectionFrom, type ConnectionFlags } from './connection.js';
import { Output, UsageError, type Stream } from './output.js';

export interface GlobalOptions extends ConnectionFlags {
  json?: boolean;
}

/** What one command's action works with. */
export interface Session {
  output: Output;
  /** Connects on first use, so that --help and usage errors never need a daemon. */
  client(): BangerClient;
  env: NodeJS.ProcessEnv;
}

type Action<Args extends unknown[]> = (session: Session, ...args: Args) => Promise<number | void>;

/** Shared by every command of one run: the streams, the exit code and the one client. */
export class CliContext {
  exitCode = 0;
  private client: BangerClient | undefined;

  constructor(
    readonly stdout: Stream,
    readonly stderr: Stream,
    readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /**
   * Wraps a commander action: commander passes the arguments, then the options and the command;
   * the action gets a session and its own arguments, and its failures become exit codes.
   */
  action<Args extends unknown[]>(run: Action<Args>): (...commanderArgs: unknown[]) => Promise<void> {
    return async (...commanderArgs) => {
      const command = commanderArgs[commanderArgs.length - 1] as Command;
      const globals = command.optsWithGlobals<GlobalOptions>();
      const output = new Output(this.stdout, this.stderr, globals.json === true);
      const session: Session = { output, env: this.env, client: () => this.connect(globals) };
      try {
        this.exitCode = (await run(session, ...(commanderArgs.slice(0, -1) as Args))) ?? 0;
      } catch (error) {
        output.error(error);
        this.exitCode = error instanceof UsageError ? 2 : 1;
      }
    };
  }

  async close(): Promise<void> {
    await this.client?.close();
  }

  private connect(flags: ConnectionFlags): BangerClient {
    this.client ??= createClient(connectionFrom(flags, this.env));
    return this.client;
  }
}
