import { resolve } from 'node:path';
import type { ClientOptions } from '../client.js';
import { defaultSocketPath } from '../defaults.js';
import { UsageError } from './output.js';

export interface ConnectionFlags {
  socket?: string;
  url?: string;
  token?: string;
}

/**
 * Flags win over the environment. A socket flag beats BANGER_URL, so one command can reach the
 * local daemon in a shell set up for a remote one; without either, the daemon's default socket.
 */
export function connectionFrom(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): ClientOptions {
  if (flags.socket !== undefined && flags.url !== undefined) {
    throw new UsageError('--socket and --url are alternatives: pass one of them');
  }
  if (flags.socket !== undefined) return { socketPath: resolve(flags.socket) };
  const url = flags.url ?? env.BANGER_URL;
  if (url === undefined || url === '') return { socketPath: defaultSocketPath(env) };
  const token = flags.token ?? env.BANGER_TOKEN;
  if (token === undefined || token === '') {
    throw new UsageError(`${flags.url === undefined ? 'BANGER_URL' : '--url'} needs --token (or BANGER_TOKEN): the TCP listener only answers requests that carry its bearer token`);
  }
  if (!/^https?:\/\//.test(url)) throw new UsageError(`the daemon URL must start with http:// or https://, got "${url}"`);
  return { baseUrl: url, token };
}
