import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/*
 * The same rules as the daemon's config (server/config.ts), restated here because a client must
 * not load server code: both sides have to agree on where the socket is without being told.
 */

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (process.getuid?.() === 0) return '/var/lib/banger';
  const stateHome = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(stateHome, 'banger');
}

/** BANGER_SOCKET, else banger.sock in BANGER_STATE_DIR or the default state dir. */
export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BANGER_SOCKET !== undefined) return resolve(env.BANGER_SOCKET);
  const stateDir = resolve(env.BANGER_STATE_DIR ?? defaultStateDir(env));
  return join(stateDir, 'banger.sock');
}
