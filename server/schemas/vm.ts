import { Type, type Static } from '@sinclair/typebox';
import { accelerations, maxLabels, maxLabelValueLength, maxPorts, vmNamePattern, vmStates, type VmState } from '../domain/vm.js';
import { ref } from './common.js';

const nullable = <T extends ReturnType<typeof Type.String> | ReturnType<typeof Type.Integer>>(schema: T, description?: string) =>
  Type.Union([schema, Type.Null()], description ? { description } : {});
const time = () => Type.String({ format: 'date-time' });

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
  description: '1-63 letters, digits, ".", "_" or "-", starting with a letter or digit',
});

const LabelsSchema = Type.Record(Type.String(), Type.String({ maxLength: maxLabelValueLength }), {
  description: `Up to ${maxLabels} labels; keys are 1-63 letters, digits, ".", "_", "/" or "-"`,
});

export const VmPortSchema = Type.Object(
  {
    guestPort: Type.Integer({ minimum: 1, maximum: 65535 }),
    hostPort: Type.Integer({ minimum: 1, maximum: 65535 }),
    hostAddress: Type.String({ description: 'Forwards listen on loopback only' }),
    wait: Type.Boolean({ description: 'Creates and starts wait for this port to accept connections' }),
  },
  { $id: 'VmPort', additionalProperties: false },
);

// Named for their static types only: without an $id they stay inline in the contract.
export const VmStateReasonSchema = Type.Object(
  {
    code: Type.String({ description: 'e.g. hypervisor_exited, kernel_panic, agent_timeout, port_timeout, interrupted, ttl_expired, stop_requested' }),
    message: Type.String(),
    at: nullable(time()),
  },
  { additionalProperties: false },
);

export const vmServiceStates = ['running', 'exited', 'not_started', 'unknown'] as const;

export const VmServiceSchema = Type.Object(
  {
    name: Type.String(),
    port: Type.Union([Type.Integer({ minimum: 1, maximum: 65535 }), Type.Null()], { description: 'The guest port it serves, published like a requested port' }),
    state: Type.Unsafe<(typeof vmServiceStates)[number]>({
      type: 'string',
      enum: [...vmServiceStates],
      description: 'As the guest agent last said: running, exited, not_started (not yet started at boot); unknown while the VM does not run or before the first answer',
    }),
    up: Type.Boolean({ description: 'Running and, when it has a port, listening on it' }),
    exitStatus: nullable(Type.Integer({ minimum: 0, maximum: 255 }), 'Of an exited service; null when it was killed without one'),
    logTail: nullable(Type.String(), "The last lines of an exited service's log (/var/log/banger/NAME.log in the guest)"),
    observedAt: nullable(time(), 'When the guest agent was last asked'),
  },
  { $id: 'VmService', additionalProperties: false },
);

export const VmSshSchema = Type.Object(
  {
    host: Type.String(),
    port: Type.Integer(),
    user: Type.String(),
    privateKeyPath: Type.String({ description: "The daemon's private key (on the daemon's host)" }),
    command: Type.String({ description: 'A ready ssh command line' }),
  },
  { additionalProperties: false },
);

export const VmSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    state: ref(VmStateSchema),
    stateReason: Type.Union([VmStateReasonSchema, Type.Null()]),
    image: Type.Object({ id: Type.String(), name: nullable(Type.String()), href: Type.String() }, { additionalProperties: false }),
    cpus: Type.Integer(),
    memoryMiB: Type.Integer(),
    workDiskSize: Type.String({ description: 'e.g. 1G' }),
    workDiskBytes: Type.Integer(),
    hypervisor: Type.String({ description: 'qemu' }),
    accel: Type.Union([...accelerations.map((accel) => Type.Literal(accel)), Type.Null()]),
    pid: nullable(Type.Integer(), 'The hypervisor process while it runs'),
    ports: Type.Array(ref(VmPortSchema), { description: 'Published guest ports: SSH (22) always, then the requested ones' }),
    ssh: Type.Union([VmSshSchema, Type.Null()]),
    services: Type.Array(ref(VmServiceSchema), {
      description: "The image's services and whether each is up: asked of the guest on GET /vms/{idOrName}, every few seconds otherwise",
    }),
    labels: LabelsSchema,
    ttlSeconds: nullable(Type.Integer()),
    expiresAt: nullable(time(), 'When the daemon deletes the VM'),
    timings: Type.Union([Type.Record(Type.String(), Type.Integer()), Type.Null()], {
      description: 'Milliseconds per phase of the last create or start (validate, clone_disks, …, ports_ready, running) and their total',
    }),
    bootedAt: nullable(time()),
    bootMode: Type.Union([Type.Literal('cold'), Type.Literal('warm'), Type.Null()], {
      description: 'How the guest came up last: cold (booted from its disks) or warm (restored from a snapshot); null before it first ran',
    }),
    baseSnapshot: Type.Union([Type.Object({ id: Type.String(), href: Type.String() }, { additionalProperties: false }), Type.Null()], {
      description: 'The snapshot whose disk layers lie under this VM’s disks (it was restored from it, or snapshotted onto it)',
    }),
    hostOverheadBytes: Type.Union([Type.Integer(), Type.Null()], {
      description: 'Resident memory of the hypervisor process beyond guest RAM; measured on GET /vms/{idOrName} of a running VM, null otherwise (and in lists)',
    }),
    dir: nullable(Type.String(), "The VM's directory (disks, sockets, console log)"),
    consoleLogPath: nullable(Type.String()),
    createdAt: time(),
    updatedAt: time(),
    href: Type.String(),
  },
  { $id: 'Vm', additionalProperties: false },
);

export const VmListSchema = Type.Object(
  {
    items: Type.Array(ref(VmSchema)),
    nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as ?cursor= for the next page; null on the last' }),
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
    cpus: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024, description: 'vCPUs (default 1; at most the host limit)' })),
    memoryMiB: Type.Optional(Type.Integer({ minimum: 1, maximum: 16_777_216, description: 'Memory in MiB (default 512)' })),
    workDiskSize: Type.Optional(Type.String({ minLength: 1, maxLength: 32, description: "Work disk (/root) size, e.g. 2G; default 1G or the image's work seed size" })),
    ports: Type.Optional(
      Type.Array(Type.Integer({ minimum: 1, maximum: 65535 }), {
        maxItems: maxPorts,
        uniqueItems: true,
        description: 'Guest TCP ports to publish on 127.0.0.1 and wait for; 22 (SSH) is always published, and waited for only when listed',
      }),
    ),
    labels: Type.Optional(LabelsSchema),
    ttlSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 30 * 24 * 3600, description: 'Delete the VM this long after its creation' })),
  },
  { $id: 'CreateVmRequest', additionalProperties: false },
);
export type CreateVmBody = Static<typeof CreateVmBodySchema>;

const labelSelector = Type.String({ minLength: 3, maxLength: 320, pattern: '^[^=]+=.*$', description: 'key=value' });

export const VmListQuerySchema = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 512, description: 'nextCursor from the previous page' })),
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
      Type.Integer({ minimum: 0, maximum: 600, description: 'How long the guest gets to power off after the ACPI power button before the hypervisor quits (default 30, BANGER_VM_STOP_GRACE_SECONDS)' }),
    ),
  },
  { additionalProperties: false },
);

export const VmConsoleQuerySchema = Type.Object(
  {
    tail: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, description: 'Only the last N lines (default: up to the last MiB)' })),
  },
  { additionalProperties: false },
);

export const vmSchemas = [VmStateSchema, VmPortSchema, VmServiceSchema, VmSchema, VmListSchema, CreateVmBodySchema];
