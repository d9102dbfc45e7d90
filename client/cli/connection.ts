import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ClientOptions } from '../client.js';
import { defaultSocketPath } from '../defaults.js';
import { UsageError } from './output.js';

export interface ConnectionFlags {
  socket?: string;
  url?: string;
  token?: string;
  tokenFile?: string;
}

/** Reads a token file: its mode and its text. */
export type TokenFileReader = (path: string) => { mode: number; text: string };

/**
 * Flags win over the environment. A socket flag beats BANGER_URL, so one command can reach the
 * local daemon in a shell set up for a remote one; without either, the daemon's default socket.
 */
export function connectionFrom(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env, readTokenFile: TokenFileReader = readFileAndMode): ClientOptions {
  if (flags.socket !== undefined && flags.url !== undefined) {
    throw new UsageError('--socket and --url are alternatives: pass one of them');
  }
  if (flags.socket !== undefined) return { socketPath: resolve(flags.socket) };
  const url = flags.url ?? env.BANGER_URL;
  if (url === undefined || url === '') return { socketPath: defaultSocketPath(env) };
  const token = tokenFrom(flags, env, readTokenFile);
  if (token === undefined || token === '') {
    throw new UsageError(
      `${flags.url === undefined ? 'BANGER_URL' : '--url'} needs --token (or BANGER_TOKEN) or --token-file (or BANGER_TOKEN_FILE): the TCP listener only answers requests that carry its bearer token`,
    );
  }
  if (!/^https?:\/\//.test(url)) throw new UsageError(`the daemon URL must start with http:// or https://, got "${url}"`);
  return { baseUrl: url, token };
}

/**
 * The same rules as the daemon's token settings (server/config.ts): flags win over the
 * environment, a token and a token file at one level exclude each other, and a token file must be
 * private to its owner and hold the token on one line.
 */
function tokenFrom(flags: ConnectionFlags, env: NodeJS.ProcessEnv, readTokenFile: TokenFileReader): string | undefined {
  if (flags.token !== undefined && flags.tokenFile !== undefined) throw new UsageError('--token and --token-file are alternatives: pass one of them');
  if (flags.token !== undefined) return flags.token;
  if (flags.tokenFile !== undefined) return tokenInFile(flags.tokenFile, '--token-file', readTokenFile);
  if (env.BANGER_TOKEN !== undefined && env.BANGER_TOKEN_FILE !== undefined) throw new UsageError('BANGER_TOKEN and BANGER_TOKEN_FILE are alternatives: set one of them');
  if (env.BANGER_TOKEN_FILE !== undefined) return tokenInFile(env.BANGER_TOKEN_FILE, 'BANGER_TOKEN_FILE', readTokenFile);
  return env.BANGER_TOKEN;
}

function tokenInFile(pathText: string, setting: string, readTokenFile: TokenFileReader): string {
  if (pathText === '') throw new UsageError(`${setting} names no file`);
  const path = resolve(pathText);
  let file: { mode: number; text: string };
  try {
    file = readTokenFile(path);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`cannot read the token file ${path} (${setting}): ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  if ((file.mode & 0o077) !== 0) {
    const shown = (file.mode & 0o777).toString(8).padStart(4, '0');
    throw new UsageError(`the token file ${path} is open to other users (mode ${shown}); make it private: chmod 600 ${path}`);
  }
  const token = file.text.trim();
  if (token === '') throw new UsageError(`the token file ${path} is empty`);
  if (/\s/.test(token)) throw new UsageError(`the token file ${path} must hold only the token, on one line`);
  return token;
}

function readFileAndMode(path: string): { mode: number; text: string } {
  const info = statSync(path);
  if (!info.isFile()) throw new UsageError(`the token file ${path} is not a regular file`);
  if (info.size > 4096) throw new UsageError(`the token file ${path} is ${info.size} bytes: too large to hold just a token`);
  return { mode: info.mode, text: readFileSync(path, 'utf8') };
}
