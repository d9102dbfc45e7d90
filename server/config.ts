import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { mib, parseSize } from './domain/byte-size.js';
import { maxJsonBodyBytes } from './domain/limits.js';
import { pseudoFilesystemDirOf } from './host/file-kind.js';
import { parseTranslationCacheSetting, type TranslationCacheSetting } from './hypervisor/qemu/translation-cache.js';
import { parseMallocArenaSetting, type MallocArenaSetting } from './hypervisor/qemu/malloc-arenas.js';
import type { StorageSettings } from './services/storage/storage-guard.js';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface Config {
  stateDir: string;
  socketPath: string;
  listen: ListenAddress | null;
  token: string | null;
  /** Where the token came from: --token is the one any local user can read in /proc/PID/cmdline. */
  tokenSource: TokenSource | null;
  defaultKernel: string | null;
  defaultInitrd: string | null;
  defaultModulesDir: string | null;
  /** Where fetched kernels are cached; shared by state dirs when set. */
  kernelCacheDir: string | null;
  /** BANGER_IMPORT_ROOTS: dirs request paths may point into, besides <state-dir>/imports; null when unset. */
  importRoots: string[] | null;
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
  /** BANGER_MIN_FREE_SPACE and BANGER_SPACE_RESERVE (server/services/storage/storage-guard.ts). */
  storage: StorageSettings;
  /** BANGER_TOOL_TIMEOUT_SECONDS: no host tool runs longer than this; null: each step's own deadline. */
  toolTimeoutSeconds: number | null;
  /** BANGER_JOB_RETENTION_SECONDS: how long a finished job is kept; 0 keeps every job (server/services/housekeeping.ts). */
  jobRetentionSeconds: number;
}

export interface ConfigFlags {
  stateDir?: string;
  socket?: string;
  listen?: string;
  token?: string;
  tokenFile?: string;
}

export type TokenSource = '--token' | 'BANGER_TOKEN' | '--token-file' | 'BANGER_TOKEN_FILE';

export class ConfigError extends Error {}

function positiveInteger(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  if (!/^[1-9][0-9]{0,8}$/.test(text)) throw new Error(`${name} must be a whole number ≥ 1, got "${text}"`);
  return Number(text);
}

function wholeNumber(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  if (!/^(0|[1-9][0-9]{0,9})$/.test(text)) throw new Error(`${name} must be a whole number ≥ 0, got "${text}"`);
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
  const tokenSetting = resolveToken(flags, env);
  const token = tokenSetting?.token ?? null;
  const listen = listenText ? parseListen(listenText) : null;
  if (listen && !token) {
    throw new ConfigError(
      '--listen needs --token (or BANGER_TOKEN) or --token-file (or BANGER_TOKEN_FILE): TCP access always requires a bearer token',
    );
  }
  if (token !== null && token.length < 16) {
    throw new ConfigError('the token must be at least 16 characters long; try: openssl rand -hex 32');
  }
  return {
    stateDir,
    socketPath: resolve(flags.socket ?? env.BANGER_SOCKET ?? join(stateDir, 'banger.sock')),
    listen,
    token,
    tokenSource: tokenSetting?.source ?? null,
    defaultKernel: env.BANGER_DEFAULT_KERNEL ?? null,
    defaultInitrd: env.BANGER_DEFAULT_INITRD ?? null,
    defaultModulesDir: env.BANGER_DEFAULT_MODULES_DIR ?? null,
    kernelCacheDir: env.BANGER_KERNEL_CACHE ? resolve(env.BANGER_KERNEL_CACHE) : null,
    importRoots: configValue(() => parseImportRoots(env.BANGER_IMPORT_ROOTS)),
    logLevel: env.BANGER_LOG_LEVEL ?? 'info',
    bodyLimit: maxJsonBodyBytes,
    tcpRateLimitPerMinute: configValue(() => positiveInteger('BANGER_TCP_RATE_LIMIT', env.BANGER_TCP_RATE_LIMIT, 1200)),
    maxConcurrentJobs: Number(env.BANGER_MAX_CONCURRENT_JOBS ?? 4),
    qemuTranslationCache: configValue(() => parseTranslationCacheSetting(env.BANGER_QEMU_TB_SIZE_MIB)),
    qemuMallocArenas: configValue(() => parseMallocArenaSetting(env.BANGER_QEMU_MALLOC_ARENA_MAX)),
    toolTimeoutSeconds: env.BANGER_TOOL_TIMEOUT_SECONDS ? configValue(() => positiveInteger('BANGER_TOOL_TIMEOUT_SECONDS', env.BANGER_TOOL_TIMEOUT_SECONDS, 1)) : null,
    jobRetentionSeconds: configValue(() => wholeNumber('BANGER_JOB_RETENTION_SECONDS', env.BANGER_JOB_RETENTION_SECONDS, defaultJobRetentionSeconds)),
    storage: {
      minFreeBytes: configValue(() => parseSpaceSetting('BANGER_MIN_FREE_SPACE', env.BANGER_MIN_FREE_SPACE, defaultMinFreeBytes)),
      reserveBytes: configValue(() => parseSpaceSetting('BANGER_SPACE_RESERVE', env.BANGER_SPACE_RESERVE, defaultReserveBytes)),
    },
  };
}

// A week: long enough to look back at last week's CI runs; a daemon making 1,000 jobs a day keeps ~140 MB of them.
const defaultJobRetentionSeconds = 7 * 24 * 60 * 60;
// An image build or a few VMs' disks fit in what is kept free; the reserve covers the writes of many deletes.
const defaultMinFreeBytes = 1024 * mib;
const defaultReserveBytes = 64 * mib;

/** A size setting: 0 (off), a byte count, or a size such as 512M or 2G. */
export function parseSpaceSetting(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text.trim() === '') return fallback;
  if (/^[0-9]{1,15}$/.test(text.trim())) return Number(text.trim());
  const bytes = parseSize(text);
  if (bytes === null) throw new Error(`${name} takes 0, a byte count or a size such as 512M or 2G, got "${text}"`);
  return bytes;
}

/**
 * Which of the four token settings applies. Flags win over the environment; a token and a token
 * file at the same level contradict each other. For a file, value is its path.
 */
export function chooseTokenSource(flags: ConfigFlags, env: NodeJS.ProcessEnv): { source: TokenSource; value: string } | null {
  if (flags.token !== undefined && flags.tokenFile !== undefined) {
    throw new ConfigError('--token and --token-file are alternatives: pass one of them (--token-file keeps the token out of the process list)');
  }
  if (flags.tokenFile !== undefined) return { source: '--token-file', value: flags.tokenFile };
  if (flags.token !== undefined) return { source: '--token', value: flags.token };
  if (env.BANGER_TOKEN !== undefined && env.BANGER_TOKEN_FILE !== undefined) {
    throw new ConfigError('BANGER_TOKEN and BANGER_TOKEN_FILE are alternatives: set one of them');
  }
  if (env.BANGER_TOKEN_FILE !== undefined) return { source: 'BANGER_TOKEN_FILE', value: env.BANGER_TOKEN_FILE };
  if (env.BANGER_TOKEN !== undefined) return { source: 'BANGER_TOKEN', value: env.BANGER_TOKEN };
  return null;
}

/** A token file is no bigger than this: anything larger is the wrong file. */
const TOKEN_FILE_MAX_BYTES = 4096;

/**
 * The token a token file holds, from its mode and text (the caller reads both): the file must be
 * its owner's alone, and hold the token on one line (surrounding whitespace is ignored).
 */
export function tokenFromFile(path: string, mode: number, text: string): string {
  if ((mode & 0o077) !== 0) {
    const shown = (mode & 0o777).toString(8).padStart(4, '0');
    throw new ConfigError(`the token file ${path} is open to other users (mode ${shown}); make it private: chmod 600 ${path}`);
  }
  const token = text.trim();
  if (token === '') throw new ConfigError(`the token file ${path} is empty`);
  if (/\s/.test(token)) throw new ConfigError(`the token file ${path} must hold only the token, on one line`);
  return token;
}

/** The token and where it came from; a token file is read (and checked) here. */
export function resolveToken(flags: ConfigFlags, env: NodeJS.ProcessEnv): { token: string; source: TokenSource } | null {
  const choice = chooseTokenSource(flags, env);
  if (choice === null) return null;
  if (choice.source === '--token' || choice.source === 'BANGER_TOKEN') return { token: choice.value, source: choice.source };
  if (choice.value === '') throw new ConfigError(`${choice.source} names no file`);
  const path = resolve(choice.value);
  let mode: number;
  let text: string;
  try {
    const info = statSync(path);
    if (!info.isFile()) throw new ConfigError(`the token file ${path} is not a regular file`);
    if (info.size > TOKEN_FILE_MAX_BYTES) throw new ConfigError(`the token file ${path} is ${info.size} bytes: too large to hold just a token`);
    mode = info.mode;
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`cannot read the token file ${path} (${choice.source}): ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  return { token: tokenFromFile(path, mode, text), source: choice.source };
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

/**
 * BANGER_IMPORT_ROOTS: colon-separated absolute dirs. Never /, nor anything on /proc, /sys or /dev:
 * a root is where images may be read from.
 */
export function parseImportRoots(text: string | undefined): string[] | null {
  if (text === undefined || text.trim() === '') return null;
  const roots: string[] = [];
  for (const entry of text.split(':')) {
    if (entry.trim() === '') continue;
    if (!isAbsolute(entry)) throw new Error(`BANGER_IMPORT_ROOTS takes absolute dirs separated by ":", got "${entry}"`);
    const root = resolve(entry);
    if (root === '/') throw new Error('BANGER_IMPORT_ROOTS cannot hold / (it would take in /proc, /sys and /dev)');
    const pseudo = pseudoFilesystemDirOf(root);
    if (pseudo !== undefined) throw new Error(`BANGER_IMPORT_ROOTS cannot hold ${root}: ${pseudo} is a pseudo filesystem`);
    if (!roots.includes(root)) roots.push(root);
  }
  return roots.length > 0 ? roots : null;
}

/** Where things live inside the state dir. */
export function stateLayout(stateDir: string) {
  return {
    database: join(stateDir, 'banger.db'),
    imagesDir: join(stateDir, 'images'),
    /** Always an import root: files copied here may be registered over TCP too. */
    importsDir: join(stateDir, 'imports'),
    imageBuildLogs: join(stateDir, 'image-build'),
    kernelCache: join(stateDir, 'kernels'),
    sshDir: stateDir,
    /** Taken by the space reserve, given up when the disk fills (server/services/storage/storage-guard.ts). */
    spaceReserve: join(stateDir, 'space-reserve'),
  };
}
export type StateLayout = ReturnType<typeof stateLayout>;
