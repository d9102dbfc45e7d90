import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex, type AnySQLiteColumn } from 'drizzle-orm/sqlite-core';
import type { Static } from '@sinclair/typebox';
import { jobEventTypes, jobStatuses, targetTypes, type JobStageStatus } from '../domain/job.js';
import { accelerations, hypervisorNames, vmStates, type Acceleration, type HypervisorName } from '../domain/vm.js';
import type { ImageService } from '../domain/image.js';
import { bootModes, snapshotPurposes, snapshotStates } from '../domain/snapshot.js';
import type { JobSchema } from '../schemas/job.js';
import type { SnapshotArtifacts } from '../hypervisor/snapshot.js';

// Timestamps are ISO-8601 strings: they sort correctly as text and read well in `sqlite3`.

export const images = sqliteTable('images', {
  id: text('id').primaryKey(),
  name: text('name').notNull().unique(),
  managed: integer('managed', { mode: 'boolean' }).notNull().default(false),
  artifactDir: text('artifact_dir'),
  rootfsPath: text('rootfs_path').notNull(),
  workSeedPath: text('work_seed_path'),
  kernelPath: text('kernel_path').notNull(),
  initrdPath: text('initrd_path'),
  modulesDir: text('modules_dir'),
  packagesPath: text('packages_path'),
  packagesSha256: text('packages_sha256'),
  buildSize: text('build_size'),
  seededSshPublicKeyFingerprint: text('seeded_ssh_public_key_fingerprint'),
  docker: integer('docker', { mode: 'boolean' }).notNull().default(false),
  /** What the image starts at boot, as built into its rootfs. */
  services: text('services', { mode: 'json' }).$type<ImageService[]>().notNull().default(sql`'[]'`),
  /** The snapshot creates from this image restore by default (POST /images/{id}/warm); kept by the snapshot service. */
  warmSnapshotId: text('warm_snapshot_id'),
  createdAt: text('created_at').notNull(),
  updatedAt: text('updated_at').notNull(),
});

// A VM row exists from the moment its create is accepted (state `creating`) until its delete job
// has removed every file and process; image deletion refuses images that rows still reference.
export const vms = sqliteTable(
  'vms',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull().unique(),
    imageId: text('image_id')
      .notNull()
      .references(() => images.id, { onDelete: 'restrict' }),
    state: text('state', { enum: vmStates }).notNull(),
    /** Why the VM is in its state, when that is worth saying: a snake_case code and a sentence. */
    stateReason: text('state_reason'),
    stateMessage: text('state_message'),
    stateChangedAt: text('state_changed_at'),
    cpus: integer('cpus').notNull().default(1),
    memoryMib: integer('memory_mib').notNull().default(512),
    workDiskBytes: integer('work_disk_bytes').notNull().default(0),
    hypervisor: text('hypervisor', { enum: hypervisorNames }).notNull().default('qemu'),
    /** Set once the hypervisor has been launched. */
    accel: text('accel', { enum: accelerations }),
    /** `<state-dir>/vms/<id>`: disks, sockets and logs; removed on delete. */
    vmDir: text('vm_dir'),
    /** The hypervisor process while one runs (or may run): what re-adoption after a restart needs. */
    process: text('process', { mode: 'json' }).$type<StoredVmProcess>(),
    /** The serial console log of the latest boot; kept outside vmDir after a failed create. */
    consoleLog: text('console_log'),
    /** The VM's disks once made; null for VMs from before they were recorded (root.qcow2 and work.ext4 in vmDir). */
    disks: text('disks', { mode: 'json' }).$type<{ rootDisk: string; workDisk: string }>(),
    /** Guest RAM in this file, shared with the hypervisor, so that a snapshot needs to save no RAM (warm images). */
    memoryFile: text('memory_file'),
    /** The snapshot whose frozen disk layers lie under this VM's disks: it cannot be deleted while the VM exists. */
    baseSnapshotId: text('base_snapshot_id').references((): AnySQLiteColumn => snapshots.id, { onDelete: 'restrict' }),
    /** cold: booted from its disks; warm: restored from a snapshot. */
    bootMode: text('boot_mode', { enum: bootModes }),
    labels: text('labels', { mode: 'json' }).notNull().default({}).$type<Record<string, string>>(),
    ttlSeconds: integer('ttl_seconds'),
    expiresAt: text('expires_at'),
    /** Milliseconds per phase of the last create or start. */
    timings: text('timings', { mode: 'json' }).$type<Record<string, number>>(),
    /** When the guest last became ready (the create or start that made it `running`). */
    bootedAt: text('booted_at'),
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
  },
  (table) => [
    index('vms_image_id').on(table.imageId),
    index('vms_state').on(table.state),
    index('vms_expires_at').on(table.expiresAt),
    index('vms_base_snapshot').on(table.baseSnapshotId),
  ],
);

// A snapshot's files (device and memory state, frozen disk layers) live in its own dir. VMs restored
// from it, VMs that went on above its layers, and later snapshots of those all depend on its layers.
export const snapshots = sqliteTable(
  'snapshots',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull().unique(),
    /** The VM it was taken from, while that VM exists; its name stays for the record. */
    sourceVmId: text('source_vm_id'),
    sourceVmName: text('source_vm_name').notNull(),
    imageId: text('image_id')
      .notNull()
      .references(() => images.id, { onDelete: 'restrict' }),
    /** The snapshot whose layers lie under this one's frozen layers. */
    baseSnapshotId: text('base_snapshot_id').references((): AnySQLiteColumn => snapshots.id, { onDelete: 'restrict' }),
    purpose: text('purpose', { enum: snapshotPurposes }).notNull(),
    state: text('state', { enum: snapshotStates }).notNull(),
    stateMessage: text('state_message'),
    dir: text('dir').notNull(),
    /** Null until the state is saved and the disks frozen. */
    artifacts: text('artifacts', { mode: 'json' }).$type<SnapshotArtifacts>(),
    cpus: integer('cpus').notNull(),
    memoryMib: integer('memory_mib').notNull(),
    /** Clones get work disks of this size (layers over the frozen one). */
    workDiskBytes: integer('work_disk_bytes').notNull(),
    sizeBytes: integer('size_bytes').notNull().default(0),
    createdAt: text('created_at').notNull(),
  },
  (table) => [index('snapshots_image_id').on(table.imageId), index('snapshots_base').on(table.baseSnapshotId)],
);

// One row per published guest port. The unique host port is what keeps two VMs from ever
// being given the same forward; the rows go with the VM.
export const vmPorts = sqliteTable(
  'vm_ports',
  {
    vmId: text('vm_id')
      .notNull()
      .references(() => vms.id, { onDelete: 'cascade' }),
    guestPort: integer('guest_port').notNull(),
    hostPort: integer('host_port').notNull().unique(),
    /** The create waits for this port to accept connections (the requested ports, not the SSH default). */
    wait: integer('wait', { mode: 'boolean' }).notNull(),
  },
  (table) => [primaryKey({ columns: [table.vmId, table.guestPort] })],
);

export const jobs = sqliteTable(
  'jobs',
  {
    id: text('id').primaryKey(),
    kind: text('kind').notNull(),
    status: text('status', { enum: jobStatuses }).notNull(),
    // Set for a job over the resources a query selected (DELETE /vms?label=…): the job is about
    // the selection, which has no id; job_targets holds what it selected.
    selectionType: text('selection_type', { enum: targetTypes }),
    selectionName: text('selection_name'),
    /** The query string that lists the selection in its collection, e.g. `label=ci-run%3D4711`. */
    selectionQuery: text('selection_query'),
    stages: text('stages', { mode: 'json' }).notNull().$type<StoredStage[]>(),
    progress: integer('progress').notNull().default(0),
    result: text('result', { mode: 'json' }).$type<unknown>(),
    error: text('error', { mode: 'json' }).$type<StoredProblem>(),
    logPath: text('log_path'),
    cancellable: integer('cancellable', { mode: 'boolean' }).notNull(),
    // What recovery needs after a crash: child process groups to kill and scratch paths to remove.
    processes: text('processes', { mode: 'json' }).notNull().$type<StoredProcess[]>(),
    scratchPaths: text('scratch_paths', { mode: 'json' }).notNull().$type<string[]>(),
    createdAt: text('created_at').notNull(),
    startedAt: text('started_at'),
    finishedAt: text('finished_at'),
  },
  // Newest first by (created_at, id), all jobs or those of one status: a page seeks to its cursor (repositories/jobs.ts).
  (table) => [index('jobs_status_created_at').on(table.status, table.createdAt, table.id), index('jobs_created_at').on(table.createdAt, table.id)],
);

// The resources a job changes, in order. `active` is set while the job is queued or running and
// cleared in the transaction that finishes it, so the unique index makes "one active mutating
// job per resource" a database guarantee for every target of every job.
export const jobTargets = sqliteTable(
  'job_targets',
  {
    jobId: text('job_id')
      .notNull()
      .references(() => jobs.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    type: text('type', { enum: targetTypes }).notNull(),
    targetId: text('target_id').notNull(),
    name: text('name'),
    active: integer('active', { mode: 'boolean' }).notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.jobId, table.position] }),
    index('job_targets_resource').on(table.type, table.targetId),
    uniqueIndex('job_targets_one_active_job').on(table.type, table.targetId).where(sql`active = 1`),
  ],
);

export const jobEvents = sqliteTable(
  'job_events',
  {
    jobId: text('job_id')
      .notNull()
      .references(() => jobs.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    type: text('type', { enum: jobEventTypes }).notNull(),
    // Replayed verbatim to event-stream clients, so stored in the API's shape.
    data: text('data', { mode: 'json' }).notNull().$type<Static<typeof JobSchema>>(),
    at: text('at').notNull(),
  },
  (table) => [uniqueIndex('job_events_job_seq').on(table.jobId, table.seq)],
);

export const idempotencyKeys = sqliteTable('idempotency_keys', {
  key: text('key').primaryKey(),
  method: text('method').notNull(),
  path: text('path').notNull(),
  requestHash: text('request_hash').notNull(),
  // Null while the first request is still being handled.
  responseStatus: integer('response_status'),
  responseHeaders: text('response_headers', { mode: 'json' }).$type<Record<string, string>>(),
  responseBody: text('response_body'),
  createdAt: text('created_at').notNull(),
});

export interface StoredStage {
  name: string;
  status: JobStageStatus;
  startedAt: string | null;
  finishedAt: string | null;
  detail?: string;
}

export interface StoredProblem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  hint?: string;
  logPath?: string;
  errors?: Array<{ field: string; message: string; hint?: string }>;
  freeBytes?: number;
  neededBytes?: number;
}

export interface StoredProcess {
  pid: number;
  startTime: string | null;
}

/** The hypervisor driver's VmProcess (server/hypervisor/driver.ts), as stored. */
export interface StoredVmProcess {
  hypervisor: HypervisorName;
  pid: number;
  startTime: string;
  accel: Acceleration;
  controlSocket: string;
  agentSocket: string;
  consoleLog: string;
  stderrLog: string;
}
