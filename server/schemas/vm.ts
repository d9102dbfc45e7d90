import { Type, type Static } from '@sinclair/typebox';
import { maxServiceLogTailLength, maxServices } from '../domain/image.js';
import { maxPathLength } from '../domain/limits.js';
import { accelerations, labelKeyPattern, maxLabelKeyLength, maxLabels, maxLabelValueLength, maxPorts, vmNamePattern, vmStates, type VmState } from '../domain/vm.js';
import {
  byteCount,
  cursorString,
  href,
  idString,
  integer,
  maxCpus,
  maxMemoryMiB,
  maxPageSize,
  message,
  milliseconds,
  nameString,
  nullable,
  nullableEnum,
  pathString,
  tcpPort,
  text,
  timestamp,
} from './bounds.js';
import { ref } from './common.js';

const time = () => timestamp();
/** Linux's PID_MAX_LIMIT: no pid is above it. */
const maxPid = 4_194_304;
/** What a create accepts (vm-settings maxTtlSeconds): 30 days. */
const maxTtlSeconds = 30 * 24 * 3600;

export const VmStateSchema = Type.Unsafe<VmState>({
  $id: 'VmState',
  type: 'string',
  enum: [...vmStates],
  description: 'creating → running; stopping → stopped; starting → running; failed (a create that did not finish); deleting',
});

export const VmNameSchema = Type.String({
  minLength: 1,
  maxLength: 63,
  pattern: vmNamePattern,
  description: '1-63 letters, digits, ".", "_" or "-", starting with a letter or digit; never 16 lowercase hex digits, the shape of an id (422)',
});

const LabelsSchema = Type.Record(Type.String(), Type.String({ maxLength: maxLabelValueLength }), {
  maxProperties: maxLabels,
  propertyNames: { type: 'string', pattern: labelKeyPattern, maxLength: maxLabelKeyLength },
  description: `Up to ${maxLabels} labels; keys are 1-63 letters, digits, ".", "_", "/" or "-", starting with a letter or digit; values up to ${maxLabelValueLength} characters`,
});

/** SSH, then each requested port and each port of the image's services once (vm-rows.ts portRequestsFor). */
export const maxVmPorts = 1 + maxPorts + maxServices;

export const VmPortSchema = Type.Object(
  {
    guestPort: tcpPort(),
    hostPort: tcpPort(),
    hostAddress: text(64, { description: 'Forwards listen on loopback only' }),
    wait: Type.Boolean({ description: 'Creates and starts wait for this port to accept connections' }),
  },
  { $id: 'VmPort', additionalProperties: false },
);

// Named for their static types only: without an $id they stay inline in the contract.
export const VmStateReasonSchema = Type.Object(
  {
    code: text(64, { description: 'e.g. hypervisor_exited, kernel_panic, agent_timeout, port_timeout, interrupted, ttl_expired, stop_requested, created_stopped, host_disk_full (the hypervisor stopped the guest when its disk write met a full host disk; resumed once there is room)' }),
    message: message({ description: 'Cut in the middle when very long' }),
    at: nullable(time()),
  },
  { additionalProperties: false },
);

export const vmServiceStates = ['running', 'exited', 'not_started', 'unknown'] as const;

export const VmServiceSchema = Type.Object(
  {
    name: text(32),
    port: nullable(tcpPort(), { description: 'The guest port it serves, published like a requested port' }),
    state: Type.Unsafe<(typeof vmServiceStates)[number]>({
      type: 'string',
      enum: [...vmServiceStates],
      description: 'As the guest agent last said: running, exited, not_started (not yet started at boot); unknown while the VM does not run or before the first answer',
    }),
    up: Type.Boolean({ description: 'Running and, when it has a port, listening on it' }),
    exitStatus: nullable(integer(0, 255), { description: 'Of an exited service; null when it was killed without one' }),
    logTail: nullable(text(maxServiceLogTailLength), { description: "The last 20 lines of an exited service's log (/var/log/banger/NAME.log in the guest), each cut to 300 bytes" }),
    observedAt: nullable(time(), { description: 'When the guest agent was last asked' }),
  },
  { $id: 'VmService', additionalProperties: false },
);

export const VmSshSchema = Type.Object(
  {
    host: text(64),
    port: tcpPort(),
    user: text(32),
    privateKeyPath: pathString({ description: "The daemon's private key (on the daemon's host)" }),
    // The key's path quoted for a shell (at most 4 characters for each of it) and the fixed words.
    command: text(4 * maxPathLength + 1024, { description: 'A ready ssh command line' }),
  },
  { additionalProperties: false },
);

export const VmSchema = Type.Object(
  {
    id: idString(),
    name: nameString(),
    state: ref(VmStateSchema),
    stateReason: nullable(VmStateReasonSchema),
    image: Type.Object({ id: idString(), name: nullable(nameString()), href: href() }, { additionalProperties: false }),
    cpus: integer(1, maxCpus),
    memoryMiB: integer(1, maxMemoryMiB),
    workDiskSize: text(32, { description: 'e.g. 1G' }),
    workDiskBytes: byteCount(),
    hypervisor: text(32, { description: 'qemu' }),
    accel: nullableEnum(accelerations),
    pid: nullable(integer(1, maxPid), { description: 'The hypervisor process while it runs' }),
    ports: Type.Array(ref(VmPortSchema), {
      maxItems: maxVmPorts,
      description: "Published guest ports: SSH (22) always, then the requested ones and the image's services' ones",
    }),
    ssh: nullable(VmSshSchema),
    services: Type.Array(ref(VmServiceSchema), {
      maxItems: maxServices,
      description: "The image's services and whether each is up: asked of the guest on GET /vms/{idOrName}, every few seconds otherwise",
    }),
    labels: LabelsSchema,
    ttlSeconds: nullable(integer(1, maxTtlSeconds)),
    expiresAt: nullable(time(), { description: 'When the daemon deletes the VM' }),
    timings: nullable(Type.Record(Type.String(), milliseconds()), {
      description: 'Milliseconds per phase of the last create or start (validate, clone_disks, …, ports_ready, running) and their total',
    }),
    bootedAt: nullable(time()),
    bootMode: nullableEnum(['cold', 'warm'], {
      description: 'How the guest came up last: cold (booted from its disks) or warm (restored from a snapshot); null before it first ran',
    }),
    baseSnapshot: nullable(Type.Object({ id: idString(), href: href() }, { additionalProperties: false }), {
      description: 'The snapshot whose disk layers lie under this VM’s disks (it was restored from it, or snapshotted onto it)',
    }),
    hostOverheadBytes: nullable(byteCount(), {
      description: 'Resident memory of the hypervisor process beyond guest RAM; measured on GET /vms/{idOrName} of a running VM (at most every 5 s: the figure may be that old), null otherwise (and in lists)',
    }),
    dir: nullable(pathString(), { description: "The VM's directory (disks, sockets, console log)" }),
    consoleLogPath: nullable(pathString()),
    createdAt: time(),
    updatedAt: time(),
    href: href(),
  },
  { $id: 'Vm', additionalProperties: false },
);

export const VmListSchema = Type.Object(
  {
    items: Type.Array(ref(VmSchema), { maxItems: maxPageSize }),
    nextCursor: nullable(cursorString(), { description: 'Pass as ?cursor= for the next page; null on the last' }),
  },
  { $id: 'VmList', additionalProperties: false },
);

export const CreateVmBodySchema = Type.Object(
  {
    name: Type.Optional(VmNameSchema),
    image: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Image id or name; give this or snapshot' })),
    snapshot: Type.Optional(
      Type.String({ minLength: 1, maxLength: 255, description: 'Restore this snapshot (id or name) instead of booting an image; cpus, memory and work disk come from it' }),
    ),
    warm: Type.Optional(
      Type.Boolean({ description: "With image: restore the image's warm snapshot when it has one and the resources match (default true); false forces a cold boot" }),
    ),
    start: Type.Optional(
      Type.Boolean({
        description: 'Boot the VM once its disks are made (default true); false ends the create job with the VM stopped (state reason created_stopped), to be booted by POST /vms/{id}/start. Not with snapshot',
      }),
    ),
    cpus: Type.Optional(integer(1, maxCpus, { description: 'vCPUs (default 1; at most the host limit)' })),
    memoryMiB: Type.Optional(integer(1, maxMemoryMiB, { description: 'Memory in MiB (default 512)' })),
    workDiskSize: Type.Optional(Type.String({ minLength: 1, maxLength: 32, description: "Work disk (/root) size, e.g. 2G; default 1G or the image's work seed size" })),
    ports: Type.Optional(
      Type.Array(tcpPort(), {
        maxItems: maxPorts,
        uniqueItems: true,
        description: 'Guest TCP ports to publish on 127.0.0.1 and wait for; 22 (SSH) is always published, and waited for only when listed',
      }),
    ),
    labels: Type.Optional(LabelsSchema),
    ttlSeconds: Type.Optional(integer(1, maxTtlSeconds, { description: 'Delete the VM this long after its creation' })),
  },
  { $id: 'CreateVmRequest', additionalProperties: false },
);
export type CreateVmBody = Static<typeof CreateVmBodySchema>;

const labelSelector = Type.String({ minLength: 3, maxLength: 320, pattern: '^[^=]+=.*$', description: 'key=value' });

export const VmListQuerySchema = Type.Object(
  {
    limit: Type.Optional(integer(1, maxPageSize, { description: 'Page size (default 50)' })),
    cursor: Type.Optional(cursorString({ description: 'nextCursor from the previous page' })),
    state: Type.Optional(ref(VmStateSchema)),
    label: Type.Optional(Type.Array(labelSelector, { maxItems: maxLabels, description: 'key=value; repeat for several (all must match)' })),
  },
  { additionalProperties: false },
);

export const VmDeleteQuerySchema = Type.Object(
  {
    label: Type.Array(labelSelector, { minItems: 1, maxItems: maxLabels, description: 'key=value; repeat for several (all must match)' }),
  },
  { additionalProperties: false },
);

export const VmStopQuerySchema = Type.Object(
  {
    graceSeconds: Type.Optional(
      integer(0, 600, { description: 'How long the guest gets to power off after the ACPI power button before the hypervisor quits (default 30, BANGER_VM_STOP_GRACE_SECONDS)' }),
    ),
  },
  { additionalProperties: false },
);

export const VmConsoleQuerySchema = Type.Object(
  {
    tail: Type.Optional(integer(1, 100_000, { description: 'Only the last N lines (default: up to the last MiB)' })),
  },
  { additionalProperties: false },
);

export const vmSchemas = [VmStateSchema, VmPortSchema, VmServiceSchema, VmSchema, VmListSchema, CreateVmBodySchema];
