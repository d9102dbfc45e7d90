import { mkdirSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Services } from './app.js';
import { stateLayout, type Config } from './config.js';
import { openDatabase, type Database } from './db/database.js';
import { IdempotencyRepository } from './db/repositories/idempotency.js';
import { ImageRepository } from './db/repositories/images.js';
import { JobRepository } from './db/repositories/jobs.js';
import { VmRepository } from './db/repositories/vms.js';
import { ensureSshIdentity } from './host/ssh-key.js';
import { ImageService } from './services/images/image-service.js';
import { JobService } from './services/jobs/job-service.js';

export interface Daemon {
  services: Services;
  database: Database;
}

const idempotencyKeyLifetimeMs = 24 * 60 * 60 * 1000;

/** Opens the state dir and wires the services; recovers what a crash left behind. No HTTP here. */
export async function openDaemon(config: Config, logger: Logger): Promise<Daemon> {
  const layout = stateLayout(config.stateDir);
  mkdirSync(config.stateDir, { recursive: true, mode: 0o755 });
  mkdirSync(layout.imagesDir, { recursive: true });
  const database = openDatabase(layout.database);
  const jobRecords = new JobRepository(database.db);
  const idempotencyKeys = new IdempotencyRepository(database.db);
  const jobs = new JobService({ database, jobs: jobRecords, logger, maxConcurrent: config.maxConcurrentJobs });
  const identity = await ensureSshIdentity(layout.sshDir);
  const images = new ImageService({
    images: new ImageRepository(database.db),
    vms: new VmRepository(database.db),
    jobRecords,
    jobs,
    layout,
    defaults: { kernel: config.defaultKernel, initrd: config.defaultInitrd, modulesDir: config.defaultModulesDir },
    identity,
    logger,
  });

  await jobs.recoverInterrupted();
  await removeStaleStagingDirs(layout.imagesDir, logger);
  idempotencyKeys.releaseUnfinished();
  idempotencyKeys.expireBefore(new Date(Date.now() - idempotencyKeyLifetimeMs).toISOString());

  return {
    services: { images, jobs, idempotencyKeys },
    database,
  };
}

// No job runs at start, so every staging dir is a leftover: half-copied artifacts must never linger.
async function removeStaleStagingDirs(imagesDir: string, logger: Logger): Promise<void> {
  for (const entry of readdirSync(imagesDir)) {
    if (!entry.includes('.promote-')) continue;
    await rm(join(imagesDir, entry), { recursive: true, force: true });
    logger.warn({ path: join(imagesDir, entry) }, 'removed a staging dir left by an interrupted job');
  }
}
