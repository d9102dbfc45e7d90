import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseTranslationCacheSetting, type TranslationCacheSetting } from './hypervisor/qemu/translation-cache.js';
import { parseMallocArenaSetting, type MallocArenaSetting } from './hypervisor/qemu/malloc-arenas.js';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface Config {
  stateDir: string;
  socketPath: string;
  listen: ListenAddress | null;
  token: string | null;
  defaultKernel: string | null;
  defaultInitrd: string | null;
  defaultModulesDir: string | null;
  /** Where fetched kernels are cached; shared by state dirs when set. */
  kernelCacheDir: string | null;
  logLevel: string;
  /** Largest accepted request body, in bytes. */
  bodyLimit: number;
  /** Requests a minute from one address on the TCP listener. BANGER_TCP_RATE_LIMIT, default 1200. */
  tcpRateLimitPerMinute: number;
  maxConcurrentJobs: number;
  /** BANGER_QEMU_TB_SIZE_MIB: auto, default, or MiB (server/hypervisor/qemu/translation-cache.ts). */
  qemuTranslationCache: TranslationCacheSetting;
  /** BANGER_QEMU_MALLOC_ARENA_MAX: auto, default, or a count (server/hypervisor/qemu/malloc-arenas.ts). */
  qemuMallocArenas: MallocArenaSetting;
}

export interface ConfigFlags {
  stateDir?: string;
  socket?: string;
  listen?: string;
  token?: string;
}

export class ConfigError extends Error {}

function positiveInteger(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  if (!/^[1-9][0-9]{0,8}$/.test(text)) throw new Error(`${name} must be a whole number ≥ 1, got "${text}"`);
  return Number(text);
}

/** A setting's parser failing is a configuration error, reported as such at start. */
function configValue<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
}

/** Flags win over environment variables, which win over defaults. */
export function resolveConfig(flags: ConfigFlags, env: NodeJS.ProcessEnv = process.env): Config {
  const stateDir = resolve(flags.stateDir ?? env.BANGER_STATE_DIR ?? defaultStateDir(env));
  const listenText = flags.listen ?? env.BANGER_LISTEN ?? null;
  const token = flags.token ?? env.BANGER_TOKEN ?? null;
  const listen = listenText ? parseListen(listenText) : null;
  if (listen && !token) {
    throw new ConfigError('--listen needs --token (or BANGER_TOKEN): TCP access always requires a bearer token');
  }
  if (token !== null && token.length < 16) {
    throw new ConfigError('the token must be at least 16 characters long; try: openssl rand -hex 32');
  }
  return {
    stateDir,
    socketPath: resolve(flags.socket ?? env.BANGER_SOCKET ?? join(stateDir, 'banger.sock')),
    listen,
    token,
    defaultKernel: env.BANGER_DEFAULT_KERNEL ?? null,
    defaultInitrd: env.BANGER_DEFAULT_INITRD ?? null,
    defaultModulesDir: env.BANGER_DEFAULT_MODULES_DIR ?? null,
    kernelCacheDir: env.BANGER_KERNEL_CACHE ? resolve(env.BANGER_KERNEL_CACHE) : null,
    logLevel: env.BANGER_LOG_LEVEL ?? 'info',
    bodyLimit: 64 * 1024,
    tcpRateLimitPerMinute: configValue(() => positiveInteger('BANGER_TCP_RATE_LIMIT', env.BANGER_TCP_RATE_LIMIT, 1200)),
    maxConcurrentJobs: Number(env.BANGER_MAX_CONCURRENT_JOBS ?? 4),
    qemuTranslationCache: configValue(() => parseTranslationCacheSetting(env.BANGER_QEMU_TB_SIZE_MIB)),
    qemuMallocArenas: configValue(() => parseMallocArenaSetting(env.BANGER_QEMU_MALLOC_ARENA_MAX)),
  };
}

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (process.getuid?.() === 0) return '/var/lib/banger';
  const stateHome = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(stateHome, 'banger');
}

/** Accepts HOST:PORT, [IPv6]:PORT or :PORT (loopback); port 0 picks a free port. */
export function parseListen(text: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[3]);
  if (!match || port > 65535) {
    throw new ConfigError(`--listen expects HOST:PORT (e.g. 127.0.0.1:7070), got "${text}"`);
  }
  return { host: match[1] ?? (match[2] || '127.0.0.1'), port };
}

/** Where things live inside the state dir. */
export function stateLayout(stateDir: string) {
  return {
    database: join(stateDir, 'banger.db'),
    imagesDir: join(stateDir, 'images'),
    imageBuildLogs: join(stateDir, 'image-build'),
    kernelCache: join(stateDir, 'kernels'),
    sshDir: stateDir,
  };
}
export type StateLayout = ReturnType<typeof stateLayout>;
