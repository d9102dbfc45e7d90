import { Type, type Static } from '@sinclair/typebox';
import { maxHypervisorVersionLength, maxListedDependents, snapshotPurposes, snapshotStates } from '../domain/snapshot.js';
import { maxPorts, vmNamePattern } from '../domain/vm.js';
import { byteCount, cursorString, href, idString, integer, maxCpus, maxMemoryMiB, maxPageSize, message, nameString, nullable, tcpPort, text, timestamp } from './bounds.js';
import { ref } from './common.js';

const link = (description: string) =>
  Type.Object({ id: idString(), name: nameString(), href: href() }, { additionalProperties: false, description });

export const SnapshotNameSchema = Type.String({
  minLength: 1,
  maxLength: 63,
  pattern: vmNamePattern,
  description: '1-63 letters, digits, ".", "_" or "-", starting with a letter or digit; never 16 lowercase hex digits, the shape of an id (422)',
});

export const SnapshotSchema = Type.Object(
  {
    id: idString(),
    name: nameString(),
    purpose: Type.Unsafe<(typeof snapshotPurposes)[number]>({
      type: 'string',
      enum: [...snapshotPurposes],
      description: 'user: taken of a VM on request; warm: made by POST /images/{idOrName}/warm for fast creates from that image',
    }),
    state: Type.Unsafe<(typeof snapshotStates)[number]>({
      type: 'string',
      enum: [...snapshotStates],
      description: 'creating: being saved; ready: can be restored; failed: its job ended early, but the VM it was taken of went on above its disk layers, so its files stay until that VM is deleted',
    }),
    stateMessage: nullable(message()),
    sourceVm: Type.Object(
      {
        id: nullable(idString(), { description: 'null once that VM is deleted' }),
        name: nameString(),
        href: nullable(href()),
      },
      { additionalProperties: false },
    ),
    image: Type.Object({ id: idString(), name: nullable(nameString()), href: href() }, { additionalProperties: false }),
    baseSnapshot: nullable(link('The snapshot whose disk layers lie under this one')),
    cpus: integer(1, maxCpus),
    memoryMiB: integer(1, maxMemoryMiB),
    memory: Type.Unsafe<'file' | 'state'>({
      type: 'string',
      enum: ['file', 'state'],
      description: 'file: guest RAM is a file that restored VMs map copy-on-write (they share its pages); state: RAM is inside the state file and copied into each restored VM',
    }),
    hypervisor: text(32),
    hypervisorVersion: text(maxHypervisorVersionLength, { description: "A restore needs this very hypervisor version ('' while creating)" }),
    machine: text(64, { description: "The machine type, e.g. q35 ('' while creating)" }),
    sizeBytes: byteCount({ description: 'What its files (device and memory state, frozen disk layers) take on disk' }),
    dependents: Type.Object(
      {
        vms: Type.Array(link('A VM on its layers'), { maxItems: maxListedDependents }),
        snapshots: Type.Array(link('A later snapshot on its layers'), { maxItems: maxListedDependents }),
      },
      {
        additionalProperties: false,
        description: `What stands on its disk layers, by name (the first ${maxListedDependents} of each): it cannot be deleted while any remain`,
      },
    ),
    createdAt: timestamp(),
    href: href(),
  },
  { $id: 'Snapshot', additionalProperties: false },
);
export type Snapshot = Static<typeof SnapshotSchema>;

export const SnapshotListSchema = Type.Object(
  {
    items: Type.Array(ref(SnapshotSchema), { maxItems: maxPageSize }),
    nextCursor: nullable(cursorString(), { description: 'Pass as ?cursor= for the next page; null on the last' }),
  },
  { $id: 'SnapshotList', additionalProperties: false },
);

export const CreateSnapshotBodySchema = Type.Object(
  {
    name: SnapshotNameSchema,
    stop: Type.Optional(
      Type.Boolean({ description: 'Stop the VM after the snapshot instead of letting it go on (on new disk layers above the frozen ones)' }),
    ),
  },
  { $id: 'CreateSnapshotRequest', additionalProperties: false },
);
export type CreateSnapshotBody = Static<typeof CreateSnapshotBodySchema>;

export const WarmImageBodySchema = Type.Object(
  {
    cpus: Type.Optional(integer(1, maxCpus, { description: 'vCPUs of the warm VM; creates restore the snapshot only when they ask for the same (default 1)' })),
    memoryMiB: Type.Optional(integer(1, maxMemoryMiB, { description: 'Memory of the warm VM in MiB; creates must ask for the same (default 512)' })),
    ports: Type.Optional(
      Type.Array(tcpPort(), {
        maxItems: maxPorts,
        uniqueItems: true,
        description: 'Guest ports to wait for before the snapshot is taken, so the services behind them are up in every restored VM',
      }),
    ),
  },
  { $id: 'WarmImageRequest', additionalProperties: false },
);
export type WarmImageBody = Static<typeof WarmImageBodySchema>;

export const snapshotSchemas = [SnapshotSchema, SnapshotListSchema, CreateSnapshotBodySchema, WarmImageBodySchema];
