/**
 * The snapshot vocabulary shared by the database columns, the HTTP schemas and the services.
 * It imports nothing.
 */

/** user: taken with POST /vms/{id}/snapshots. warm: made by POST /images/{id}/warm for fast creates. */
export const snapshotPurposes = ['user', 'warm'] as const;
export type SnapshotPurpose = (typeof snapshotPurposes)[number];

/**
 * creating: its job is saving it; ready: it can be restored; failed: its job ended before it was
 * whole, but something stands on its disk layers (the source VM went on above them), so its files stay.
 */
export const snapshotStates = ['creating', 'ready', 'failed'] as const;
export type SnapshotState = (typeof snapshotStates)[number];

/** How a VM's guest came up last: booted from its disks, or restored from a snapshot. */
export const bootModes = ['cold', 'warm'] as const;
export type BootMode = (typeof bootModes)[number];

/** A snapshot's view lists at most this many of the VMs, and of the snapshots, on its disk layers (by name). */
export const maxListedDependents = 500;
/** The hypervisor version a snapshot needs (the first line of its --version), as its view shows it: cut beyond. */
export const maxHypervisorVersionLength = 1024;
