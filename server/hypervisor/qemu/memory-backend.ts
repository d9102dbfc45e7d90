import type { GuestMemory } from '../snapshot.js';

/**
 * Guest RAM in a file: `-object memory-backend-file` made the machine's RAM with
 * `-machine q35,memory-backend=…` (QEMU ≥ 5.0; the older -mem-path and -numa forms are not
 * used). share=on maps it MAP_SHARED, so the file is the RAM; share=off maps it MAP_PRIVATE,
 * so the file is only the RAM's starting content and every clone restored from one file shares
 * its page-cache pages until it writes to them.
 */

/**
 * The id QEMU gives the RAM it makes from -m alone (q35's default-ram-id). Migration matches
 * RAM blocks by id, so with this one a state saved from a file-backed VM loads into a VM with
 * anonymous RAM, and the other way round.
 */
export const RAM_BACKEND_ID = 'pc.ram';

/** escape: QEMU's option-value escaping (boot-args' qemuOptionValue). */
export function memoryBackendObject(memory: GuestMemory, memoryMiB: number, escape: (value: string) => string): string {
  return `memory-backend-file,id=${RAM_BACKEND_ID},size=${memoryMiB}M,mem-path=${escape(memory.file)},share=${memory.shared ? 'on' : 'off'}`;
}
