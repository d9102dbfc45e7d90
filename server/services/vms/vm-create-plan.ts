import { statSync } from 'node:fs';
import type { ImageRow } from '../../db/repositories/images.js';
import type { SnapshotRow } from '../../db/repositories/snapshots.js';
import { compatibilityMismatches, type SnapshotCompatibility } from '../../hypervisor/snapshot.js';
import { BangerError } from '../errors.js';
import { formatSize } from '../../domain/byte-size.js';
import { validationError } from '../errors.js';
import { idShapedNameErrors } from '../ids.js';
import type { SnapshotStore } from '../snapshots/snapshot-store.js';
import type { VmDeps, VmRecords } from './vm-records.js';
import { resourceErrors, type CreateVmInput } from './vm-request.js';

/** What a create will do: boot the image, or restore a snapshot (named, or the image's warm one). */
export interface CreatePlan {
  image: ImageRow;
  snapshot: SnapshotRow | null;
  cpus: number;
  memoryMiB: number;
  workDiskBytes: number;
  /** Why an image with a warm snapshot still boots cold, for the log. */
  coldBecause?: string;
}

/**
 * Decides how a create goes, checking everything that needs no process: the source exists and is
 * usable, the resources are allowed, and a snapshot fits the request and this hypervisor (409
 * snapshot-incompatible naming each mismatch). Throws the problem for the first thing that fails.
 */
export async function planCreate(input: CreateVmInput, deps: VmDeps, records: VmRecords, snapshots: SnapshotStore): Promise<CreatePlan> {
  const nameErrors = idShapedNameErrors('body.name', input.name);
  if (nameErrors.length > 0) throw validationError('Cannot create the VM', nameErrors);
  if ((input.image === undefined) === (input.snapshot === undefined)) {
    throw validationError('Cannot create the VM', [
      { field: 'body.image', message: input.image === undefined ? 'is required (or snapshot)' : 'cannot be given with snapshot', hint: 'pass either image (boot it) or snapshot (restore it)' },
    ]);
  }
  if (input.snapshot !== undefined && input.start === false) {
    throw validationError('Cannot create the VM', [
      { field: 'body.start', message: 'cannot be false with snapshot: a restore resumes a running guest', hint: 'leave out start, or create from the image with start: false' },
    ]);
  }
  if (input.snapshot !== undefined) return planRestore(input, input.snapshot, deps, records, snapshots);

  const image = deps.images.findByIdOrName(input.image as string);
  if (!image) throw new BangerError('image-not-found', `No image with id or name "${input.image}"`, { hint: 'list images with GET /images (banger image ls)' });
  records.requireBootable(image);
  const seedBytes = statSync(image.workSeedPath as string).size;
  const { errors, workDiskBytes } = resourceErrors(input, deps.settings, seedBytes);
  if (errors.length > 0) throw validationError('Cannot create the VM', errors);
  const cold: CreatePlan = {
    image,
    snapshot: null,
    cpus: input.cpus ?? deps.settings.defaultCpus,
    memoryMiB: input.memoryMiB ?? deps.settings.defaultMemoryMiB,
    workDiskBytes,
  };
  // A VM created without starting has only its own disks: a warm snapshot would be a running guest.
  if (input.warm === false || input.start === false || !image.warmSnapshotId) return cold;

  const warm = snapshots.repository.get(image.warmSnapshotId);
  if (!warm?.artifacts || warm.state !== 'ready') return { ...cold, coldBecause: 'its warm snapshot is not ready' };
  const mismatches = await mismatchesOf(warm, cold, records);
  if (mismatches.length > 0) return { ...cold, coldBecause: `its warm snapshot differs: ${mismatches.join('; ')}` };
  return { ...cold, snapshot: warm };
}

async function planRestore(input: CreateVmInput, idOrName: string, deps: VmDeps, records: VmRecords, snapshots: SnapshotStore): Promise<CreatePlan> {
  const snapshot = snapshots.find(idOrName);
  if (snapshot.state !== 'ready' || !snapshot.artifacts) {
    throw new BangerError('snapshot-not-ready', `Snapshot ${snapshot.name} is ${snapshot.state}${snapshot.stateMessage ? `: ${snapshot.stateMessage}` : ''}`, {
      hint: snapshot.state === 'creating' ? 'wait for its job to finish' : 'take the snapshot again',
    });
  }
  const image = records.requireImage(snapshot.imageId);
  const { errors } = resourceErrors({ ...input, workDiskSize: undefined }, deps.settings, null);
  if (errors.length > 0) throw validationError('Cannot create the VM', errors);
  const plan: CreatePlan = { image, snapshot, cpus: snapshot.cpus, memoryMiB: snapshot.memoryMib, workDiskBytes: snapshot.workDiskBytes };
  const requested = { ...plan, cpus: input.cpus ?? plan.cpus, memoryMiB: input.memoryMiB ?? plan.memoryMiB };
  const mismatches = await mismatchesOf(snapshot, requested, records);
  if (input.workDiskSize !== undefined) {
    mismatches.push(`workDiskSize is ${formatSize(snapshot.workDiskBytes)} in the snapshot, ${input.workDiskSize} requested`);
  }
  if (mismatches.length > 0) {
    throw new BangerError('snapshot-incompatible', `Snapshot ${snapshot.name} cannot be restored here: ${mismatches.join('; ')}`, {
      hint: 'leave out cpus, memoryMiB and workDiskSize (they come from the snapshot), or boot the image instead',
    });
  }
  return plan;
}

/** Each way the snapshot differs from the VM that would restore it, as a sentence. */
async function mismatchesOf(snapshot: SnapshotRow, wanted: Pick<CreatePlan, 'cpus' | 'memoryMiB' | 'workDiskBytes'>, records: VmRecords): Promise<string[]> {
  const saved = snapshot.artifacts?.compatibility as SnapshotCompatibility;
  const driver = records.driverOf({ name: snapshot.name, hypervisor: saved.hypervisor });
  const here: SnapshotCompatibility = { ...(await driver.compatibility()), cpus: wanted.cpus, memoryMiB: wanted.memoryMiB };
  const found = compatibilityMismatches(saved, here).map((m) => `${m.field} is ${JSON.stringify(m.snapshot)} in the snapshot, ${JSON.stringify(m.wanted)} here`);
  if (wanted.workDiskBytes !== snapshot.workDiskBytes) found.push(`the work disk is ${formatSize(snapshot.workDiskBytes)} in the snapshot, ${formatSize(wanted.workDiskBytes)} requested`);
  return found;
}
