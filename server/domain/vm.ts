/**
 * The VM vocabulary shared by the database columns, the HTTP schemas and the services.
 * It imports nothing, so db/, schemas/ and services/ can all depend on it without a cycle.
 */

export const vmStates = ['creating', 'starting', 'running', 'paused', 'stopping', 'stopped', 'failed', 'deleting'] as const;
export type VmState = (typeof vmStates)[number];

export const hypervisorNames = ['qemu', 'firecracker'] as const;
export type HypervisorName = (typeof hypervisorNames)[number];

export const accelerations = ['kvm', 'tcg'] as const;
export type Acceleration = (typeof accelerations)[number];

export const vmNamePattern = '^[A-Za-z0-9][A-Za-z0-9._-]*$';
export const labelKeyPattern = '^[A-Za-z0-9]([A-Za-z0-9._/-]{0,62})$';
/** What labelKeyPattern allows. */
export const maxLabelKeyLength = 63;
export const maxLabels = 32;
export const maxLabelValueLength = 255;
export const maxPorts = 16;

/** GET /vms/{idOrName}/console answers at most the last MiB of the console log. */
export const consoleTailBytes = 1024 * 1024;

/** The guest port of the SSH server every image runs. */
export const sshGuestPort = 22;
