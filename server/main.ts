import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildApp } from './app.js';
import { resolveConfig, stateLayout, type ConfigFlags } from './config.js';
import { openDaemon, stopBackgroundWork } from './daemon.js';
import { capToolDeadlines } from './host/runner.js';
import { DAEMON_UMASK, secureStateDir } from './host/state-dir.js';
import { acquireStateLock } from './host/state-lock.js';
import { closeListeners } from './http/close-listeners.js';

/**
 * How long a shutdown waits for requests under way once jobs and guest connections have ended:
 * a request can hang on a client that stopped sending its body, or on a guest, and must not hold
 * the daemon up for ever (a service manager would kill it with everything half done).
 */
const requestGraceMs = 10_000;

export interface RunningDaemon {
  socketPath: string;
  tcpUrl: string | null;
  stop(): Promise<void>;
}

/** `banger serve`: owns config, logger, listeners and graceful shutdown. */
export async function serve(flags: ConfigFlags): Promise<RunningDaemon> {
  // Before anything is created: the database, logs, artifacts, VM dirs, and what QEMU and the
  // build tools (which inherit it) write, are the daemon user's alone.
  process.umask(DAEMON_UMASK);
  const config = resolveConfig(flags);
  capToolDeadlines(config.toolTimeoutSeconds === null ? null : { ms: config.toolTimeoutSeconds * 1000, setting: 'BANGER_TOOL_TIMEOUT_SECONDS' });
  const logger = pino({ level: config.logLevel, base: { pid: process.pid } });
  if (config.tokenSource === '--token') {
    logger.warn(
      'the token was passed with --token: any local user can read it in /proc/PID/cmdline (ps shows it); ' +
        'pass --token-file PATH (a file only this user can read) or BANGER_TOKEN instead',
    );
  }
  // The lock and the stale socket come before openDaemon: its crash recovery must never run
  // beside a live daemon.
  const lock = await acquireStateLock(config.stateDir);
  let tightened: { changed: number; failed: string[] };
  try {
    // Fetched kernels keep their packages' modes: builds copy their modules into guests as they are.
    tightened = secureStateDir(config.stateDir, {
      keepContentsOf: [stateLayout(config.stateDir).kernelCache],
      leaveAlone: [config.socketPath],
    });
  } catch (error) {
    lock.release();
    throw error;
  }
  if (tightened.changed > 0) {
    logger.warn({ stateDir: config.stateDir, entries: tightened.changed }, 'the state dir was open to other users: group and world access removed');
  }
  if (tightened.failed.length > 0) {
    logger.warn({ paths: tightened.failed.slice(0, 20), count: tightened.failed.length }, 'these entries of the state dir are open to other users and could not be changed');
  }
  await clearStaleSocket(config.socketPath);
  const daemon = await openDaemon(config, logger);
  let draining = false;
  const appOptions = { services: daemon.services, logger, bodyLimit: config.bodyLimit, isDraining: () => draining };

  const apps: FastifyInstance[] = [];
  const unixApp = await buildApp(appOptions);
  await unixApp.listen({ path: config.socketPath });
  chmodSync(config.socketPath, 0o660);
  apps.push(unixApp);
  logger.info({ socket: config.socketPath, stateDir: config.stateDir }, 'banger listening on unix socket');

  let tcpUrl: string | null = null;
  if (config.listen) {
    const tcpApp = await buildApp({ ...appOptions, token: config.token, rateLimit: { perMinute: config.tcpRateLimitPerMinute } });
    await tcpApp.listen({ host: config.listen.host, port: config.listen.port });
    const address = tcpApp.server.address();
    const port = typeof address === 'object' && address ? address.port : config.listen.port;
    tcpUrl = `http://${config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host}:${port}`;
    apps.push(tcpApp);
    logger.info({ url: tcpUrl }, 'banger listening on TCP (bearer token required)');
  }

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      draining = true;
      logger.info('shutting down: finishing in-flight requests, interrupting running jobs');
      await stopBackgroundWork(daemon);
      const cut = await closeListeners(apps, requestGraceMs);
      if (cut > 0) logger.warn({ connections: cut, graceMs: requestGraceMs }, 'requests still unanswered after the grace period were cut off');
      daemon.database.close();
      lock.release();
      logger.info('banger stopped');
    })();
    return stopping;
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      void stop().then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
  return { socketPath: config.socketPath, tcpUrl, stop };
}

/** A socket file left by a crashed daemon is removed; a live daemon on it is an error. */
async function clearStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  const alive = await new Promise<boolean>((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`another banger daemon is already listening on ${path}`);
  unlinkSync(path);
}
