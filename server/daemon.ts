import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Services } from './app.js';
import { stateLayout, type Config, type StateLayout } from './config.js';
import { openDatabase, type Database } from './db/database.js';
import { IdempotencyRepository } from './db/repositories/idempotency.js';
import { ImageRepository } from './db/repositories/images.js';
import { JobRepository } from './db/repositories/jobs.js';
import { SnapshotRepository } from './db/repositories/snapshots.js';
import { VmRepository } from './db/repositories/vms.js';
import { removeTree } from './host/remove-tree.js';
import { ensureSshIdentity } from './host/ssh-key.js';
import { QemuDriver } from './hypervisor/qemu/qemu-driver.js';
import { HypervisorRegistry } from './hypervisor/registry.js';
import { ImageBuilder } from './services/images/build/image-builder.js';
import { ImageService } from './services/images/image-service.js';
import { JobService } from './services/jobs/job-service.js';
import { SnapshotService } from './services/snapshots/snapshot-service.js';
import { SnapshotStore } from './services/snapshots/snapshot-store.js';
import { VmService } from './services/vms/vm-service.js';
import { ExecService } from './services/exec/exec-service.js';
import { FileService } from './services/files/file-service.js';
import { GuestShells } from './services/exec/guest-shells.js';
import { vmSettingsFromEnv } from './services/vms/vm-settings.js';
import { StorageGuard } from './services/storage/storage-guard.js';
import { Housekeeping } from './services/housekeeping.js';
import { DaemonMetrics } from './services/metrics/daemon-metrics.js';

export interface Daemon {
  services: Services;
  database: Database;
  /** Started with the daemon; stopped before the database closes. */
  housekeeping: Housekeeping;
}

const idempotencyKeyLifetimeSeconds = 24 * 60 * 60;
// Attach, agent request and SSH handshake; the handshake alone took ~0.3 s under emulation.
const guestShellConnectTimeoutMs = 30_000;

/** Opens the state dir and wires the services; recovers what a crash left behind. No HTTP here. */
export async function openDaemon(config: Config, logger: Logger): Promise<Daemon> {
  const layout = { ...stateLayout(config.stateDir), ...(config.kernelCacheDir ? { kernelCache: config.kernelCacheDir } : {}) };
  mkdirSync(config.stateDir, { recursive: true, mode: 0o700 });
  mkdirSync(layout.imagesDir, { recursive: true });
  mkdirSync(layout.importsDir, { recursive: true, mode: 0o700 });
  const storage = new StorageGuard({ dir: config.stateDir, reservePath: layout.spaceReserve, settings: config.storage, logger: logger.child({ component: 'storage' }) });
  const database = openDatabase(layout.database);
  const jobRecords = new JobRepository(database.db);
  const idempotencyKeys = new IdempotencyRepository(database.db);
  const vmRows = new VmRepository(database.db);
  const metrics = new DaemonMetrics({ vmsByState: () => vmRows.countByState() });
  const jobs = new JobService({
    database,
    jobs: jobRecords,
    logger,
    storage,
    maxConcurrent: config.maxConcurrentJobs,
    ownedLogDir: layout.imageBuildLogs,
    observer: metrics.jobs,
  });
  const identity = await ensureSshIdentity(layout.sshDir);
  const imageRows = new ImageRepository(database.db);
  const snapshotsDir = join(config.stateDir, 'snapshots');
  mkdirSync(snapshotsDir, { recursive: true, mode: 0o700 });
  const snapshotStore = new SnapshotStore({
    snapshots: new SnapshotRepository(database.db),
    images: imageRows,
    jobRecords,
    snapshotsDir,
    logger: logger.child({ component: 'snapshots' }),
  });
  const images = new ImageService({
    images: imageRows,
    vms: vmRows,
    jobRecords,
    jobs,
    layout,
    defaults: { kernel: config.defaultKernel, initrd: config.defaultInitrd, modulesDir: config.defaultModulesDir },
    importRoots: config.importRoots,
    identity,
    builder: new ImageBuilder({ images: imageRows, layout, identity, logger }),
    snapshots: snapshotStore,
    storage,
    logger,
  });

  const vmsDir = join(config.stateDir, 'vms');
  mkdirSync(vmsDir, { recursive: true, mode: 0o750 });
  const vms = new VmService({
    vms: vmRows,
    images: imageRows,
    imageService: images,
    jobRecords,
    jobs,
    // Firecracker joins here as a second driver on hosts with KVM (docs/architecture.md).
    hypervisors: new HypervisorRegistry([new QemuDriver({ translationCache: config.qemuTranslationCache, mallocArenas: config.qemuMallocArenas })]),
    vmsDir,
    identity,
    settings: vmSettingsFromEnv(),
    storage,
    logger: logger.child({ component: 'vms' }),
    onBooted: (timings, mode) => metrics.booted(timings, mode),
  }, snapshotStore);

  const guestShells = new GuestShells({
    privateKey: () => readFile(identity.privateKeyPath),
    connectTimeoutMs: guestShellConnectTimeoutMs,
  });

  await jobs.recoverInterrupted();
  await removeStaleWorkDirs(layout, logger);
  // After the jobs: a create whose job was interrupted is cleaned up as the VM's own business.
  await vms.reconciler.recover();
  vms.reconciler.startMonitor();
  idempotencyKeys.releaseUnfinished();
  const housekeeping = new Housekeeping({
    jobs,
    idempotencyKeys,
    settings: { jobRetentionSeconds: config.jobRetentionSeconds, idempotencyKeySeconds: idempotencyKeyLifetimeSeconds },
    logger: logger.child({ component: 'housekeeping' }),
  });
  housekeeping.start();
  await storage.holdReserve();

  return {
    services: { images, jobs, vms, snapshots: new SnapshotService(snapshotStore, storage), storage, execs: new ExecService(vms, guestShells), files: new FileService(vms, guestShells), idempotencyKeys, metrics },
    database,
    housekeeping,
  };
}

/**
 * Stops the daemon's own work before its listeners close: the monitor and housekeeping, then the
 * jobs (interrupted, recorded as such) and execs. Running VMs stay up, re-adopted at the next start.
 */
export async function stopBackgroundWork(daemon: Daemon): Promise<void> {
  await daemon.services.vms.reconciler.stopMonitor();
  await daemon.housekeeping.stop();
  await daemon.services.jobs.shutdown();
  daemon.services.execs.shutdown();
}

// No job runs at start, so every staging or build work dir is a leftover: half-made artifacts must never linger.
async function removeStaleWorkDirs(layout: StateLayout, logger: Logger): Promise<void> {
  const leftovers = [
    ...entriesOf(layout.imagesDir).filter((entry) => entry.includes('.promote-') || entry.includes('.build-')).map((entry) => join(layout.imagesDir, entry)),
    ...entriesOf(layout.imageBuildLogs).filter((entry) => entry.endsWith('.work')).map((entry) => join(layout.imageBuildLogs, entry)),
  ];
  for (const path of leftovers) {
    await removeTree(path);
    logger.warn({ path }, 'removed a work dir left by an interrupted job');
  }
}

function entriesOf(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}
