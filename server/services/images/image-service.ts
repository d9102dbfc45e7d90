import { existsSync } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import type { Logger } from 'pino';
import type { StateLayout } from '../../config.js';
import type { ImageRepository, ImageRow } from '../../db/repositories/images.js';
import type { JobRepository } from '../../db/repositories/jobs.js';
import type { VmRepository } from '../../db/repositories/vms.js';
import { copyFilePreferClone, type CopyOptions } from '../../host/copy.js';
import { seedAuthorizedKey } from '../../host/ext4.js';
import type { SshIdentity } from '../../host/ssh-key.js';
import type { RegisterImageBody } from '../../schemas/image.js';
import type { SnapshotStore } from '../snapshots/snapshot-store.js';
import type { StorageGuard } from '../storage/storage-guard.js';
import { BangerError, validationError } from '../errors.js';
import { idShapedNameErrors, newId, now } from '../ids.js';
import type { JobService } from '../jobs/job-service.js';
import type { Job } from '../jobs/types.js';
import { packagesHash } from './packages.js';
import { Preflight, withRecheckedFile } from './preflight.js';
import type { ImageBuilder } from './build/image-builder.js';
import { planBuild, type BuildImageInput } from './build/plan-build.js';
import { imageBuildJob, imagePromoteJob } from './image-jobs.js';
import { imageView, type Image } from './image-view.js';
import { importRootsFor, type ImportRoots, type RequestOrigin } from './import-roots.js';

export type RegisterImageInput = RegisterImageBody;

export interface ImageDefaults {
  kernel: string | null;
  initrd: string | null;
  modulesDir: string | null;
}

export interface ImageServiceOptions {
  images: ImageRepository;
  vms: VmRepository;
  jobRecords: JobRepository;
  jobs: JobService;
  layout: StateLayout;
  defaults: ImageDefaults;
  /** BANGER_IMPORT_ROOTS, absolute dirs; null when unset. `layout.importsDir` is always a root. */
  importRoots: readonly string[] | null;
  identity: SshIdentity;
  builder: ImageBuilder;
  snapshots: SnapshotStore;
  /** Refuses new images on a nearly full disk, and makes room for deletes. */
  storage: StorageGuard;
  logger: Logger;
}

const rootfsFileName = 'rootfs.ext4';
const workSeedFileName = 'work-seed.ext4';

/** The image catalogue: register, promote, delete. Knows nothing of HTTP. */
export class ImageService {
  constructor(private readonly options: ImageServiceOptions) {}

  list(limit: number, afterName?: string): Image[] {
    return this.options.images.list(limit, afterName).map(imageView);
  }

  /** Moves whenever a page of list() may show something else (any write to the database). */
  listStamp(): string {
    return this.options.images.dataStamp();
  }

  get(idOrName: string): Image {
    return imageView(this.find(idOrName));
  }

  /**
   * Records an unmanaged image, or updates the unmanaged image of that name. Every file is checked
   * for what it claims to be and, for a path the request names, for lying inside the import roots
   * of the listener the request came in on.
   */
  async register(input: RegisterImageInput, origin: RequestOrigin): Promise<{ image: Image; created: boolean }> {
    const nameErrors = idShapedNameErrors('body.name', input.name);
    if (nameErrors.length > 0) throw validationError(`Cannot register image ${input.name}`, nameErrors);
    const { defaults } = this.options;
    const kernelPath = input.kernelPath ?? defaults.kernel ?? undefined;
    const workSeedPath = input.workSeedPath ?? workSeedBeside(input.rootfsPath);
    const initrdPath = input.initrdPath ?? (input.kernelPath ? undefined : defaults.initrd ?? undefined);
    const modulesDir = input.modulesDir ?? (input.kernelPath ? undefined : defaults.modulesDir ?? undefined);
    // The operator's defaults are checked for what they are, not for where they lie.
    const configured = (given: string | undefined) => ({ configured: given === undefined });

    const checks = new Preflight(this.importRoots(origin));
    await checks.requireFile('rootfsPath', input.rootfsPath, 'ext4', 'rootfs image', 'pass the absolute path of an ext4 rootfs image');
    if (kernelPath === undefined) {
      checks.fail('kernelPath', 'a kernel is required and no default kernel is configured', 'pass kernelPath, or start the daemon with BANGER_DEFAULT_KERNEL set');
    } else {
      await checks.requireFile('kernelPath', kernelPath, 'kernel', 'kernel image', 'pass the absolute path of a Linux kernel (a bzImage such as vmlinuz, or an ELF vmlinux)', configured(input.kernelPath));
    }
    if (workSeedPath !== undefined) {
      await checks.requireFile('workSeedPath', workSeedPath, 'ext4', 'work-seed image', 'pass the absolute path of the work-seed ext4 image, or leave it out');
    }
    if (initrdPath !== undefined) {
      await checks.requireFile('initrdPath', initrdPath, 'initrd', 'initrd image', 'pass the absolute path of an initrd (a cpio archive, possibly compressed), or leave it out', configured(input.initrdPath));
    }
    if (modulesDir !== undefined) {
      await checks.requireModulesDir('modulesDir', modulesDir, 'kernel modules dir', 'pass the absolute path of a lib/modules/<version> directory, or leave it out', configured(input.modulesDir));
    }
    let packagesText: string | null = null;
    if (input.packagesPath !== undefined) {
      packagesText = await checks.readTextFile('packagesPath', input.packagesPath, 'packages manifest', 'pass the absolute path of a text file with one package a line, or leave it out');
    }
    checks.throwIfFailed(`Cannot register image ${input.name}`);

    const existing = this.options.images.findByName(input.name);
    if (existing?.managed) {
      throw new BangerError('image-managed', `Image ${input.name} is managed by banger and cannot be re-registered`, {
        hint: `register under another name, or delete it first: DELETE /images/${input.name}`,
      });
    }
    this.options.storage.require('registering an image');
    if (existing) await this.options.snapshots.dropWarm(existing.id, 'the image was registered again');
    const timestamp = now();
    const row: ImageRow = {
      id: existing?.id ?? newId(),
      name: input.name,
      managed: false,
      artifactDir: null,
      rootfsPath: input.rootfsPath,
      workSeedPath: workSeedPath ?? null,
      kernelPath: kernelPath as string,
      initrdPath: initrdPath ?? null,
      modulesDir: modulesDir ?? null,
      packagesPath: input.packagesPath ?? null,
      packagesSha256: packagesText === null ? null : packagesHash(packagesText.split('\n')),
      buildSize: existing?.buildSize ?? null,
      seededSshPublicKeyFingerprint: existing?.seededSshPublicKeyFingerprint ?? null,
      docker: input.docker ?? false,
      services: [],
      // Re-registered files are other files: a warm snapshot of the old ones no longer fits.
      warmSnapshotId: null,
      createdAt: existing?.createdAt ?? timestamp,
      updatedAt: timestamp,
    };
    this.options.images.upsert(row);
    this.options.logger.info({ imageId: row.id, name: row.name, updated: Boolean(existing) }, 'image registered');
    return { image: imageView(row), created: !existing };
  }

  /**
   * Starts a job that moves an unmanaged image's artifacts into banger's own artifact dir. The files
   * are checked again (they may have been replaced since they were registered), against the import
   * roots of the listener this request came in on, and copied from the very file that was checked.
   */
  async promote(idOrName: string, origin: RequestOrigin): Promise<Job> {
    const image = this.find(idOrName);
    if (image.managed) {
      throw new BangerError('image-already-managed', `Image ${image.name} is already managed (artifacts in ${image.artifactDir})`, {
        hint: 'only unmanaged (registered) images can be promoted',
      });
    }
    const roots = this.importRoots(origin);
    const checks = new Preflight(roots);
    const hint = `re-register the image with a valid path: POST /images with name "${image.name}"`;
    await checks.requireFile('rootfsPath', image.rootfsPath, 'ext4', 'rootfs image', hint);
    if (image.workSeedPath) await checks.requireFile('workSeedPath', image.workSeedPath, 'ext4', 'work-seed image', hint);
    checks.throwIfFailed(`Cannot promote image ${image.name}`);
    this.options.storage.require('a promotion', await artifactBytes(image));

    const artifactDir = join(this.options.layout.imagesDir, image.id);
    if (existsSync(artifactDir)) {
      throw new BangerError('artifact-dir-exists', `Artifact dir ${artifactDir} already exists`, {
        hint: 'it is not recorded as any image: inspect it and remove it, then retry',
      });
    }
    return this.options.jobs.start({
      kind: imagePromoteJob,
      targets: [{ type: 'image', id: image.id, name: image.name }],
      run: async (context) => {
        const imagesDir = this.options.layout.imagesDir;
        const stagingDir = join(imagesDir, `${image.id}.promote-${context.jobId}`);
        const processOptions = { signal: context.signal, onSpawn: (pid: number) => context.trackProcess(pid) };
        await mkdir(imagesDir, { recursive: true });
        context.scratch(stagingDir);
        await mkdir(stagingDir);

        context.stage('copy_rootfs', image.rootfsPath);
        await copyCheckedExt4('rootfsPath', image.rootfsPath, roots, join(stagingDir, rootfsFileName), processOptions, image.name);

        let fingerprint: string | null = null;
        if (image.workSeedPath) {
          context.stage('copy_work_seed', image.workSeedPath);
          await copyCheckedExt4('workSeedPath', image.workSeedPath, roots, join(stagingDir, workSeedFileName), processOptions, image.name);
          context.stage('seed_ssh_key', this.options.identity.fingerprint);
          await seedAuthorizedKey(join(stagingDir, workSeedFileName), this.options.identity.publicKey, { signal: context.signal });
          fingerprint = this.options.identity.fingerprint;
        } else {
          context.skip('copy_work_seed', 'the image has no work seed');
          context.skip('seed_ssh_key', 'the image has no work seed');
        }

        if (image.packagesSha256) {
          context.stage('write_metadata');
          await writeFile(join(stagingDir, `${rootfsFileName}.packages.sha256`), `${image.packagesSha256}\n`);
        } else {
          context.skip('write_metadata', 'the image has no packages manifest');
        }

        context.stage('activate_artifacts', artifactDir);
        context.scratch(artifactDir);
        await rename(stagingDir, artifactDir);
        const promoted: ImageRow = {
          ...image,
          managed: true,
          artifactDir,
          rootfsPath: join(artifactDir, rootfsFileName),
          workSeedPath: image.workSeedPath ? join(artifactDir, workSeedFileName) : null,
          seededSshPublicKeyFingerprint: fingerprint,
          updatedAt: now(),
        };
        context.commit(() => this.options.images.upsert(promoted));
        return { image: imageView(promoted) };
      },
    });
  }

  /** Starts a job that builds a new managed image from a recipe or a base rootfs. */
  async build(input: BuildImageInput, origin: RequestOrigin): Promise<Job> {
    const plan = await planBuild(input, this.importRoots(origin));
    this.options.storage.require('an image build', plan.sizeBytes);
    // No await from here on: the name checks and the job's start happen as one step.
    if (this.options.images.findByName(plan.name)) {
      throw new BangerError('image-name-taken', `An image named ${plan.name} already exists`, {
        hint: `pick another name, or delete it first: banger image rm ${plan.name}`,
      });
    }
    const building = this.options.jobRecords.activeByTargetName(imageBuildJob.name, plan.name);
    if (building) {
      throw new BangerError('resource-busy', `Image ${plan.name} is already being built by job ${building.id}`, {
        hint: `wait for it: GET /jobs/${building.id}?wait=60, or cancel it: POST /jobs/${building.id}/cancel`,
      });
    }
    const { builder } = this.options;
    return this.options.jobs.start({
      kind: imageBuildJob,
      targets: [{ type: 'image', id: plan.id, name: plan.name }],
      logPath: builder.logPathFor(plan.id),
      run: (context) => builder.run(plan, context),
    });
  }

  /** Writes the daemon's current SSH key into a managed image's work seed. */
  async reseed(idOrName: string): Promise<Image> {
    const image = this.find(idOrName);
    if (!image.managed) {
      throw new BangerError('image-not-managed', `Image ${image.name} is not managed; banger does not write into registered files`, {
        hint: `promote it first: banger image promote ${image.name}`,
      });
    }
    if (!image.workSeedPath) {
      throw new BangerError('preflight-failed', `Image ${image.name} has no work seed to put the key in`, {
        errors: [{ field: 'workSeedPath', message: 'the image has no work seed' }],
        hint: 'rebuild the image: banger image build',
      });
    }
    this.requireIdle(image);
    await seedAuthorizedKey(image.workSeedPath, this.options.identity.publicKey);
    const reseeded: ImageRow = { ...image, seededSshPublicKeyFingerprint: this.options.identity.fingerprint, updatedAt: now() };
    this.options.images.upsert(reseeded);
    this.options.logger.info({ imageId: image.id, fingerprint: this.options.identity.fingerprint }, 'image re-seeded');
    // Its warm snapshot's work disk holds the old key.
    await this.options.snapshots.dropWarm(image.id, 'its work seed was re-seeded');
    return imageView(this.find(image.id));
  }

  /** Deletes the record, and the artifacts too when banger manages them. */
  async delete(idOrName: string): Promise<Image> {
    const image = this.find(idOrName);
    this.options.storage.makeRoom('a delete');
    const users = this.options.vms.usingImage(image.id);
    if (users.length > 0) {
      const names = users.map((vm) => vm.name).join(', ');
      throw new BangerError('image-in-use', `Image ${image.name} is used by ${users.length} VM(s): ${names}`, {
        hint: 'delete those VMs first',
      });
    }
    const snapshots = this.options.snapshots.repository.ofImage(image.id).filter((snapshot) => snapshot.id !== image.warmSnapshotId);
    if (snapshots.length > 0) {
      const names = snapshots.map((snapshot) => snapshot.name).join(', ');
      throw new BangerError('image-in-use', `Image ${image.name} is used by ${snapshots.length} snapshot(s): ${names}`, {
        hint: 'delete those snapshots first (banger snapshot rm …)',
      });
    }
    this.requireIdle(image);
    await this.options.snapshots.dropWarm(image.id, 'the image is deleted');
    this.options.images.delete(image.id);
    if (image.managed && image.artifactDir) await rm(image.artifactDir, { recursive: true, force: true });
    this.options.logger.info({ imageId: image.id, name: image.name, managed: image.managed }, 'image deleted');
    return imageView(image);
  }

  private importRoots(origin: RequestOrigin): ImportRoots | null {
    return importRootsFor({ importsDir: this.options.layout.importsDir, configured: this.options.importRoots }, origin);
  }

  private requireIdle(image: ImageRow): void {
    const busy = this.options.jobRecords.activeFor('image', image.id);
    if (busy) {
      throw new BangerError('resource-busy', `Image ${image.name} is busy with job ${busy.id} (${busy.kind})`, {
        hint: `wait for it: GET /jobs/${busy.id}?wait=60, or cancel it: POST /jobs/${busy.id}/cancel`,
      });
    }
  }

  private find(idOrName: string): ImageRow {
    const image = this.options.images.findByIdOrName(idOrName);
    if (!image) {
      throw new BangerError('image-not-found', `No image with id or name "${idOrName}"`, { hint: 'list images with GET /images' });
    }
    return image;
  }
}

/**
 * Copies an ext4 image from the file found at `path` once it is checked again: cp reads the opened
 * descriptor, so a path swapped after the check (for a symlink to a device, say) is never followed.
 */
async function copyCheckedExt4(
  field: string,
  path: string,
  roots: ImportRoots | null,
  target: string,
  options: CopyOptions,
  imageName: string,
): Promise<void> {
  const file = {
    field,
    path,
    kind: 'ext4' as const,
    roots: roots?.dirs ?? null,
    summary: `Cannot promote image ${imageName}`,
    hint: `re-register the image with a valid path: POST /images with name "${imageName}"`,
  };
  await withRecheckedFile(file, (checkedPath) => copyFilePreferClone(checkedPath, target, options));
}

/** Like the original daemon: a work seed sitting beside the rootfs is picked up without being named. */
function workSeedBeside(rootfsPath: string): string | undefined {
  if (!isAbsolute(rootfsPath)) return undefined;
  const dir = dirname(rootfsPath);
  const stem = basename(rootfsPath).replace(/\.ext4$/, '');
  const candidates = [join(dir, workSeedFileName), join(dir, `${stem}.work-seed.ext4`)];
  return candidates.find((candidate) => candidate !== rootfsPath && existsSync(candidate));
}

/** What a promotion copies: the rootfs and the work seed, as much of them as is allocated (the copy keeps holes). */
async function artifactBytes(image: ImageRow): Promise<number> {
  const paths = [image.rootfsPath, image.workSeedPath].filter((path): path is string => path !== null);
  const sizes = await Promise.all(paths.map(async (path) => (await stat(path)).blocks * 512));
  return sizes.reduce((sum, size) => sum + size, 0);
}
