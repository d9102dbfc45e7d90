import { createWriteStream, type WriteStream } from 'node:fs';
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Logger } from 'pino';
import type { StateLayout } from '../../../config.js';
import type { ImageRepository, ImageRow } from '../../../db/repositories/images.js';
import { installKernelModules } from '../../../guest/debian/kernel-modules.js';
import { writeTreeFile } from '../../../guest/debian/tree-files.js';
import { GuestServiceError, installGuestServices } from '../../../guest/guest-services.js';
import { buildInitrd, DEFAULT_INITRD_MODULES } from '../../../guest/initrd.js';
import { copyFilePreferClone } from '../../../host/copy.js';
import { makeExt4, seedAuthorizedKey } from '../../../host/ext4.js';
import { ensureDefaultKernel } from '../../../host/kernel/cache.js';
import { removeTree } from '../../../host/remove-tree.js';
import { isOutOfSpace } from '../../../host/free-space.js';
import { run, RunError } from '../../../host/runner.js';
import type { SshIdentity } from '../../../host/ssh-key.js';
import { BangerError } from '../../errors.js';
import { now } from '../../ids.js';
import type { BuildContext } from '../image-jobs.js';
import { StepRunner } from './step-runner.js';
import { imageView, type Image } from '../image-view.js';
import { packagesHash } from '../packages.js';
import { formatSize } from '../../../domain/byte-size.js';
import { requireHostTools } from './host-tools.js';
import { recipeFor, type RecipeTools } from './recipes.js';
import { suppliedFile, type BuildPlan } from './build-plan.js';
import { withRecheckedFile } from '../preflight.js';

export interface ImageBuilderOptions {
  images: ImageRepository;
  layout: StateLayout;
  identity: SshIdentity;
  logger: Logger;
}

const rootfsFile = 'rootfs.ext4';
const workSeedFile = 'work-seed.ext4';
const mib = 1024 * 1024;
// ext4 metadata, journal and reserved blocks on top of the files themselves.
const filesystemOverheadBytes = 32 * mib;

/** Turns a validated build plan into a managed image, one recorded stage at a time. */
export class ImageBuilder {
  constructor(private readonly options: ImageBuilderOptions) {}

  logPathFor(imageId: string): string {
    return join(this.options.layout.imageBuildLogs, `${imageId}.log`);
  }

  async run(plan: BuildPlan, context: BuildContext): Promise<{ image: Image }> {
    const { layout } = this.options;
    await mkdir(layout.imageBuildLogs, { recursive: true });
    await mkdir(layout.imagesDir, { recursive: true });
    const log = createWriteStream(this.logPathFor(plan.id), { flags: 'a' });
    // A log that cannot be written (a full disk) must not take the daemon down: the build goes on, and fails on its own writes.
    log.on('error', (error) => this.options.logger.warn({ err: error, imageId: plan.id }, 'cannot write the build log'));
    const workDir = join(layout.imageBuildLogs, `${plan.id}.work`);
    const stagingDir = join(layout.imagesDir, `${plan.id}.build-${context.jobId}`);
    const artifactDir = join(layout.imagesDir, plan.id);
    context.scratch(workDir);
    context.scratch(stagingDir);
    const step = new StepRunner(context, log);
    try {
      log.write(`banger image build ${plan.name} (${plan.id}) started ${now()}\n${JSON.stringify(plan, null, 2)}\n`);
      await mkdir(workDir, { recursive: true });
      await mkdir(stagingDir);
      const rootDir = join(workDir, 'rootfs');
      const seedDir = join(workDir, 'work-seed');
      const recipe = recipeFor(plan.source);

      context.stage('preflight');
      await requireHostTools(recipe.hostTools(plan));

      const kernel = await step.run('fetch_kernel', async () => {
        if (plan.kernel) {
          context.skip('fetch_kernel', `using ${plan.kernel.kernelPath}`);
          return plan.kernel;
        }
        context.stage('fetch_kernel');
        return ensureDefaultKernel(layout.kernelCache, { signal: context.signal, log });
      });

      const tools: RecipeTools = { context, log, step };
      await step.run('bootstrap_rootfs', async () => {
        context.stage('bootstrap_rootfs', plan.source.kind === 'recipe' ? plan.source.recipe : plan.source.path);
        await recipe.bootstrap(rootDir, plan, tools);
      });
      await step.run('install_packages', async () => {
        if (!recipe.installPackages || plan.packages.length + (plan.docker ? 1 : 0) === 0) {
          context.skip('install_packages', plan.packages.length === 0 ? 'no packages requested' : 'installed while bootstrapping');
          return;
        }
        context.stage('install_packages', plan.packages.join(' '));
        await recipe.installPackages(rootDir, plan, tools);
      });

      await step.run('install_modules', async () => {
        if (!kernel.modulesDir || !kernel.version) {
          context.skip('install_modules', 'no modules dir for this kernel');
          return;
        }
        context.stage('install_modules', kernel.version);
        await installKernelModules(rootDir, kernel.modulesDir, kernel.version, { signal: context.signal, log });
      });

      await step.run('install_guest_files', async () => {
        context.stage('install_guest_files', plan.services.length > 0 ? `services: ${plan.services.map((service) => service.name).join(', ')}` : undefined);
        await recipe.installGuestFiles(rootDir, plan, tools);
        await installGuestServices(rootDir, plan.services).catch((error: unknown) => {
          throw error instanceof GuestServiceError ? new BangerError('image-build-failed', error.message, { hint: error.hint }) : error;
        });
        // An exact mode (the daemon's umask is 077), and never through a symlink the tree holds.
        await writeTreeFile(
          rootDir,
          'etc/banger-release',
          `BANGER_IMAGE_ID=${plan.id}\nBANGER_IMAGE_NAME=${plan.name}\nBANGER_BUILT_AT=${now()}\n`,
          0o644,
        );
      });

      const initrdPath = await step.run('make_initrd', async () => {
        const target = join(stagingDir, 'initrd.img');
        if (plan.kernel?.initrdPath) {
          context.stage('make_initrd', `copying ${plan.kernel.initrdPath}`);
          await withRecheckedFile(suppliedFile(plan, 'initrd', plan.kernel.initrdPath, 'initrd'), (checked) =>
            copyFilePreferClone(checked, target, this.commandOptions(context, log)),
          );
          return target;
        }
        context.stage('make_initrd');
        await buildInitrd(target, {
          modulesDir: kernel.modulesDir as string,
          kernelVersion: kernel.version as string,
          modules: DEFAULT_INITRD_MODULES,
          signal: context.signal,
          log,
        });
        return target;
      });

      await step.run('make_rootfs', async () => {
        context.stage('make_rootfs', plan.sizeText);
        // /root leaves the rootfs: it becomes the work seed, the VM's own writable /root.
        await rename(join(rootDir, 'root'), seedDir).catch(() => mkdir(seedDir, { mode: 0o700 }));
        await mkdir(join(rootDir, 'root'), { mode: 0o700 });
        await this.requireRoom(rootDir, plan.sizeBytes, plan.sizeText, context);
        await this.makeFilesystem(join(stagingDir, rootfsFile), plan.sizeBytes, rootDir, 'banger-root', plan.sizeText, context, log);
      });

      await step.run('make_work_seed', async () => {
        context.stage('make_work_seed');
        await chmod(seedDir, 0o700);
        const used = await diskUsage(seedDir, context);
        const size = Math.max(64 * mib, roundUpToMib(used * 2 + filesystemOverheadBytes));
        await this.makeFilesystem(join(stagingDir, workSeedFile), size, seedDir, 'banger-work', formatSize(size), context, log);
      });

      await step.run('seed_ssh_key', async () => {
        context.stage('seed_ssh_key', this.options.identity.fingerprint);
        await seedAuthorizedKey(join(stagingDir, workSeedFile), this.options.identity.publicKey, { signal: context.signal, log });
      });

      const kernelPath = await step.run('write_metadata', async () => {
        context.stage('write_metadata');
        const packagesSha256 = packagesHash(plan.packages);
        await writeFile(join(stagingDir, `${rootfsFile}.packages`), plan.packages.map((name) => `${name}\n`).join(''));
        await writeFile(join(stagingDir, `${rootfsFile}.packages.sha256`), `${packagesSha256}\n`);
        const target = join(stagingDir, basename(kernel.kernelPath));
        const copy = (source: string) => copyFilePreferClone(source, target, this.commandOptions(context, log));
        // A fetched kernel is the daemon's own; a supplied one is checked again as it is copied.
        if (plan.kernel) await withRecheckedFile(suppliedFile(plan, 'kernel', plan.kernel.kernelPath, 'kernel'), copy);
        else await copy(kernel.kernelPath);
        return target;
      });

      context.stage('persisted', artifactDir);
      context.scratch(artifactDir);
      await rename(stagingDir, artifactDir);
      const timestamp = now();
      const inArtifacts = (path: string) => join(artifactDir, basename(path));
      const image: ImageRow = {
        id: plan.id,
        name: plan.name,
        managed: true,
        artifactDir,
        rootfsPath: join(artifactDir, rootfsFile),
        workSeedPath: join(artifactDir, workSeedFile),
        kernelPath: inArtifacts(kernelPath),
        initrdPath: inArtifacts(initrdPath),
        modulesDir: kernel.modulesDir ?? null,
        packagesPath: join(artifactDir, `${rootfsFile}.packages`),
        packagesSha256: packagesHash(plan.packages),
        buildSize: plan.sizeText,
        seededSshPublicKeyFingerprint: this.options.identity.fingerprint,
        docker: plan.docker,
        services: plan.services,
        warmSnapshotId: null,
        createdAt: timestamp,
        updatedAt: timestamp,
      };
      context.commit(() => this.options.images.upsert(image));
      log.write(`banger image build ${plan.name} (${plan.id}) finished ${now()}\n`);
      this.options.logger.info({ imageId: plan.id, name: plan.name }, 'image built');
      return { image: imageView(image) };
    } catch (error) {
      log.write(`\nbuild failed: ${error instanceof Error ? error.message : String(error)}\n`);
      throw error;
    } finally {
      await removeTree(workDir).catch((error: unknown) => log.write(`could not remove ${workDir}: ${String(error)}\n`));
      await closeLog(log);
    }
  }

  private commandOptions(context: BuildContext, log: WriteStream) {
    return { signal: context.signal, log, onSpawn: (pid: number) => context.trackProcess(pid), timeoutMs: 60 * 60 * 1000 };
  }

  /** Says "too small" before mkfs does, in words a user can act on. */
  private async requireRoom(dir: string, sizeBytes: number, sizeText: string, context: BuildContext): Promise<void> {
    const used = await diskUsage(dir, context);
    const needed = roundUpToMib(used * 1.1 + filesystemOverheadBytes);
    if (needed > sizeBytes) throw sizeTooSmall(sizeText, used, needed);
  }

  private async makeFilesystem(
    path: string,
    sizeBytes: number,
    fromDir: string,
    label: string,
    sizeText: string,
    context: BuildContext,
    log: WriteStream,
  ): Promise<void> {
    try {
      await makeExt4(path, sizeBytes, { fromDir, label, signal: context.signal, log });
    } catch (error) {
      // "Could not allocate block": the image is full. "No space left on device" is the host's disk, which the job reports as such.
      if (error instanceof RunError && /could not allocate|not enough space/i.test(error.stderr) && !isOutOfSpace(error)) {
        const used = await diskUsage(fromDir, context);
        throw sizeTooSmall(sizeText, used, roundUpToMib(used * 1.25 + filesystemOverheadBytes));
      }
      throw error;
    }
  }
}

function sizeTooSmall(sizeText: string, used: number, needed: number): BangerError {
  return new BangerError('image-size-too-small', `The image content takes ${formatSize(used)}; size ${sizeText} leaves no room for it`, {
    hint: `pass a size of at least ${formatSize(needed)}`,
  });
}

async function diskUsage(dir: string, context: BuildContext): Promise<number> {
  const { stdout } = await run('du', ['-s', '--block-size=1', '--', dir], { signal: context.signal, timeoutMs: 10 * 60 * 1000 });
  return Number(stdout.split(/\s/)[0] ?? 0);
}

function roundUpToMib(bytes: number): number {
  return Math.ceil(bytes / mib) * mib;
}

function closeLog(log: WriteStream): Promise<void> {
  if (log.destroyed) return Promise.resolve();
  return new Promise((resolve) => log.end(() => resolve()));
}
