import { closeSync, existsSync, openSync, rmSync, statSync, unlinkSync } from 'node:fs';
import type { Logger } from 'pino';
import { describeBytes } from '../../domain/byte-size.js';
import { availableBytes, isOutOfSpace } from '../../host/free-space.js';
import { run } from '../../host/runner.js';
import { BangerError, type ProblemCode } from '../errors.js';

export interface StorageSettings {
  /** BANGER_MIN_FREE_SPACE: new work is refused while less than this is free; 0 turns the check off. */
  minFreeBytes: number;
  /** BANGER_SPACE_RESERVE: held as a file and given up when the disk fills, so deletes and stops find room; 0: none. */
  reserveBytes: number;
}

export interface StorageGuardOptions {
  /** The state dir: its filesystem holds the database, the images, the VMs' disks and the snapshots. */
  dir: string;
  reservePath: string;
  settings: StorageSettings;
  logger: Logger;
}

export type StorageConcern = 'low-free-space' | 'space-reserve-released';

export interface StorageHealth {
  path: string;
  freeBytes: number;
  minFreeBytes: number;
  reserveBytes: number;
  reserveHeld: boolean;
  concerns: Array<{ code: StorageConcern; message: string }>;
}

// Problems that only say a step failed: when a full disk made it fail, that is the better answer.
const failureCodes = new Set<ProblemCode>(['command-failed', 'image-build-failed', 'internal']);

const freeSpaceHint =
  'free space on that filesystem: delete VMs, snapshots or images you no longer need (DELETE /vms/{id}, /snapshots/{id}, /images/{id}; deletes and stops work on a full disk)';

/**
 * Keeps the state dir's filesystem from filling up under the daemon, and keeps it workable when it
 * does: new work is refused while free space is below a threshold, a reserve file is held that is
 * given up the moment a write meets a full disk (SQLite needs room even to delete a row), and a
 * full disk is reported as such rather than as whatever failed.
 */
export class StorageGuard {
  private reserveHeld: boolean;
  private reserving: Promise<void> | undefined;

  constructor(private readonly options: StorageGuardOptions) {
    // A reserve left from a run with one, when this run wants none, is only taken space.
    if (options.settings.reserveBytes === 0) rmSync(options.reservePath, { force: true });
    this.reserveHeld = this.reserveOnDisk();
  }

  get settings(): StorageSettings {
    return this.options.settings;
  }

  /** The dir whose filesystem is watched: the state dir. */
  get dir(): string {
    return this.options.dir;
  }

  freeBytes(): number {
    return availableBytes(this.options.dir);
  }

  /** What /healthz reports: free space, the reserve, and what is wrong with them. */
  health(): StorageHealth {
    const { minFreeBytes, reserveBytes } = this.options.settings;
    const freeBytes = this.freeBytes();
    const concerns: StorageHealth['concerns'] = [];
    if (freeBytes < minFreeBytes) {
      concerns.push({
        code: 'low-free-space',
        message: `${describeBytes(freeBytes)} free on the filesystem of ${this.options.dir}, below the ${describeBytes(minFreeBytes)} kept free (BANGER_MIN_FREE_SPACE): new VMs, images and snapshots are refused until space is freed`,
      });
    }
    // A reserve there is room for again is being made (keepReserve, below): nothing to report.
    if (reserveBytes > 0 && !this.reserveHeld && freeBytes < minFreeBytes + reserveBytes) {
      concerns.push({
        code: 'space-reserve-released',
        message: `the ${describeBytes(reserveBytes)} space reserve is not held (the disk filled up, or never had room for it); it is made again once ${describeBytes(minFreeBytes + reserveBytes)} are free`,
      });
    }
    this.keepReserve(freeBytes);
    return { path: this.options.dir, freeBytes, minFreeBytes, reserveBytes, reserveHeld: this.reserveHeld, concerns };
  }

  /**
   * Refuses new work (a create, a build, a snapshot) that would start with less than the threshold
   * free, plus what the work itself is known to write.
   */
  require(work: string, ownBytes = 0): void {
    const { minFreeBytes } = this.options.settings;
    if (minFreeBytes === 0) return;
    const freeBytes = this.freeBytes();
    const neededBytes = minFreeBytes + ownBytes;
    if (freeBytes >= neededBytes) {
      this.keepReserve(freeBytes);
      return;
    }
    const breakdown = ownBytes > 0 ? ` (${describeBytes(ownBytes)} for it, plus the ${describeBytes(minFreeBytes)} BANGER_MIN_FREE_SPACE keeps free)` : ' (BANGER_MIN_FREE_SPACE)';
    throw new BangerError(
      'insufficient-storage',
      `${describeBytes(freeBytes)} is free on the filesystem of ${this.options.dir}; ${work} needs ${describeBytes(neededBytes)} free${breakdown}`,
      { hint: `${freeSpaceHint}, or lower BANGER_MIN_FREE_SPACE`, space: { freeBytes, neededBytes } },
    );
  }

  /**
   * Before work that frees space (a stop, a delete): when the disk is nearly full, the reserve is
   * given up first so that the work's own writes (its job record, the row it deletes) find room.
   */
  makeRoom(work: string): void {
    const { reserveBytes } = this.options.settings;
    if (!this.reserveHeld || this.freeBytes() >= reserveBytes) return;
    this.releaseReserve(`${work} on a nearly full disk`);
  }

  /** Runs a write; when it meets a full disk, gives up the reserve and tries once more. */
  withRoom<T>(write: () => T): T {
    try {
      return write();
    } catch (error) {
      if (!isOutOfSpace(error) || !this.releaseReserve('a write met a full disk')) throw error;
      return write();
    }
  }

  /**
   * A failure caused by a full disk, as insufficient-storage with the space that is left, or
   * undefined for any other failure. The reserve is given up, so the cleanup that follows, and a
   * delete the user sends next, find room.
   */
  fullDiskError(error: unknown): BangerError | undefined {
    if (error instanceof BangerError ? !failureCodes.has(error.code) || !isOutOfSpace(error.cause) : !isOutOfSpace(error)) return undefined;
    this.releaseReserve('a write met a full disk');
    const freeBytes = this.freeBytes();
    const what = error instanceof Error ? error.message : String(error);
    return new BangerError('insufficient-storage', `The filesystem of ${this.options.dir} is full (${describeBytes(freeBytes)} free): ${what}`, {
      hint: `${freeSpaceHint}, then retry`,
      space: { freeBytes, neededBytes: null },
      cause: error,
    });
  }

  /** Makes the reserve file when it is missing and there is room for it; returns once it is there or given up. */
  async holdReserve(): Promise<void> {
    this.keepReserve(this.freeBytes());
    await this.reserving;
  }

  private releaseReserve(why: string): boolean {
    if (!this.reserveHeld) return false;
    try {
      unlinkSync(this.options.reservePath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    this.reserveHeld = false;
    this.options.logger.warn({ path: this.options.reservePath, bytes: this.options.settings.reserveBytes, why }, 'space reserve released');
    return true;
  }

  /** Starts making the reserve file in the background when it is due. */
  private keepReserve(freeBytes: number): void {
    const { minFreeBytes, reserveBytes } = this.options.settings;
    if (reserveBytes === 0 || this.reserveHeld || this.reserving || freeBytes < minFreeBytes + reserveBytes) return;
    this.reserving = this.makeReserve().finally(() => {
      this.reserving = undefined;
    });
  }

  private async makeReserve(): Promise<void> {
    const { reservePath, settings, logger } = this.options;
    try {
      closeSync(openSync(reservePath, 'w', 0o600));
      // fallocate gives the file real blocks without writing them: the space is taken at once.
      await run('fallocate', ['--length', String(settings.reserveBytes), '--', reservePath], { timeoutMs: 60_000 });
      this.reserveHeld = this.reserveOnDisk();
      logger.info({ path: reservePath, bytes: settings.reserveBytes }, 'space reserve held');
    } catch (error) {
      try {
        unlinkSync(reservePath);
      } catch {
        // Nothing was made, or it is gone already.
      }
      logger.warn({ err: error, path: reservePath }, 'could not make the space reserve; deletes on a full disk may fail');
    }
  }

  private reserveOnDisk(): boolean {
    if (this.options.settings.reserveBytes === 0 || !existsSync(this.options.reservePath)) return false;
    const info = statSync(this.options.reservePath);
    return info.blocks * 512 >= this.options.settings.reserveBytes;
  }
}
