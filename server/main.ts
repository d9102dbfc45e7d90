import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildApp } from './app.js';
import { resolveConfig, type ConfigFlags } from './config.js';
import { openDaemon } from './daemon.js';
import { acquireStateLock } from './host/state-lock.js';

export interface RunningDaemon {
  socketPath: string;
  tcpUrl: string | null;
  stop(): Promise<void>;
}

/** `banger serve`: owns config, logger, listeners and graceful shutdown. */
export async function serve(flags: ConfigFlags): Promise<RunningDaemon> {
  const config = resolveConfig(flags);
  const logger = pino({ level: config.logLevel, base: { pid: process.pid } });
  // Both checks come before openDaemon: its crash recovery must never run beside a live daemon.
  const lock = acquireStateLock(config.stateDir);
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
      // Running VMs stay up (they are re-adopted at the next start); only the monitor stops.
      await daemon.services.vms.reconciler.stopMonitor();
      await daemon.services.jobs.shutdown();
      daemon.services.execs.shutdown();
      await Promise.all(apps.map((app) => app.close()));
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
