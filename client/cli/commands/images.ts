import type { Command } from 'commander';
import { resolve } from 'node:path';
import type { BuildImageRequest, Image, ImageServiceRequest, RegisterImageRequest } from '../../types.js';
import { collect, groupCommand, leafCommand } from '../command-builder.js';
import type { CliContext, Session } from '../context.js';
import { finishJob } from '../follow.js';
import { formatTime, orDash, wholeNumber, yesNo } from '../format.js';
import { UsageError } from '../output.js';
import { allPages } from '../all-pages.js';


interface RegisterFlags {
  rootfs: string;
  kernel?: string;
  workSeed?: string;
  initrd?: string;
  modules?: string;
  packages?: string;
  docker?: boolean;
}

export function imageCommands(program: Command, context: CliContext): void {
  const image = groupCommand(program, 'image', 'Manage the guest image catalogue', [
    'banger image ls',
    'banger image register debian --rootfs ./debian.ext4',
    'banger image promote debian',
    'banger image build default --recipe debian-bookworm',
  ]);

  leafCommand(image, 'ls', 'List every image, ordered by name', {
    examples: ['banger image ls', 'banger image ls --json'],
  })
    .alias('list')
    .action(
      context.action(async (session) => {
        const images = await allPages((page) => session.client().listImages(page));
        if (session.output.json) return session.output.printJson(images);
        if (images.length === 0) return session.output.line('no images yet; add one with: banger image register NAME --rootfs PATH');
        session.output.table(
          ['NAME', 'ID', 'MANAGED', 'ROOTFS', 'UPDATED'],
          images.map((item) => [item.name, item.id, yesNo(item.managed), item.rootfsPath, formatTime(item.updatedAt)]),
        );
      }),
    );

  leafCommand(image, 'show <name>', 'Show one image, by name or id', { examples: ['banger image show debian'] }).action(
    context.action(async (session, name: string) => {
      const found = await session.client().getImage(name);
      if (session.output.json) return session.output.printJson(found);
      showImage(session, found);
    }),
  );

  leafCommand(image, 'register <name>', 'Register image files that stay where they are (an unmanaged image)', {
    details:
      'Registering an existing unmanaged name updates it. Relative paths are taken from the current directory. ' +
      'A work seed next to the rootfs (work-seed.ext4 or NAME.work-seed.ext4) is picked up without --work-seed; ' +
      'without --kernel the daemon uses its default kernel (BANGER_DEFAULT_KERNEL).',
    examples: [
      'banger image register debian --rootfs ./debian.ext4 --kernel /boot/vmlinuz',
      'banger image register devbox --rootfs /srv/devbox.ext4 --packages ./packages.txt --docker',
    ],
  })
    .requiredOption('--rootfs <path>', 'ext4 rootfs image (required)')
    .option('--kernel <path>', 'kernel (vmlinuz); default: the daemon\'s default kernel')
    .option('--work-seed <path>', 'work-seed ext4 image; default: one found beside the rootfs')
    .option('--initrd <path>', 'initrd image')
    .option('--modules <dir>', 'kernel modules directory (lib/modules/<version>)')
    .option('--packages <path>', 'packages manifest, one package a line')
    .option('--docker', 'the image runs Docker', false)
    .action(
      context.action(async (session, name: string, flags: RegisterFlags) => {
        const { image: registered, created } = await session.client().registerImage(registerBody(name, flags));
        if (session.output.json) return session.output.printJson(registered);
        session.output.line(`image ${registered.name} ${created ? 'registered' : 'updated'} (id ${registered.id}, unmanaged)`);
      }),
    );

  leafCommand(image, 'promote <name>', "Copy an unmanaged image's files into banger's artifact dir, making it managed", {
    details:
      'Runs as a job and shows its stages as they happen. With --no-wait, prints the job id and returns at once; ' +
      'follow it later with `banger job wait ID`.',
    examples: ['banger image promote debian', 'banger image promote debian --no-wait'],
  })
    .option('--no-wait', 'start the job and print its id without waiting')
    .action(
      context.action(async (session, name: string, flags: { wait: boolean }) => {
        return finishJob(session, await session.client().promoteImage(name), flags.wait);
      }),
    );

  leafCommand(image, 'build <name>', 'Build a managed image from a recipe (debian-bookworm, busybox) or a base ext4 rootfs', {
    details:
      "Runs as a job and shows its stages as they happen; every build keeps its full log, whose path is printed on failure. " +
      "Without --kernel the daemon fetches and caches Debian's linux-image-cloud-amd64 and builds an initrd for it. " +
      'The image gets a work seed (its /root) holding the daemon\'s SSH key. ' +
      '--service NAME[:PORT][@USER]=COMMAND declares a program the image starts at boot (a systemd unit on Debian, an rc.d script on busybox), ' +
      'run by /bin/sh -c with its output in /var/log/banger/NAME.log; VMs publish and wait for its PORT, and `banger vm show` says whether it is up.',
    examples: [
      'banger image build default --recipe debian-bookworm',
      'banger image build tiny --recipe busybox',
      'banger image build devbox --recipe debian-bookworm --package git --package curl --size 4G',
      'banger image build custom --base-rootfs ./base.ext4 --packages-file ./packages.txt',
      "banger image build web --recipe debian-bookworm --package python3 --service 'web:8000@nobody=python3 -m http.server 8000'",
    ],
  })
    .option('--recipe <recipe>', 'build from scratch: debian-bookworm or busybox')
    .option('--base-rootfs <path>', 'build from an existing ext4 rootfs instead')
    .option('--package <name>', 'a Debian package to install (repeatable)', collect)
    .option('--packages-file <path>', 'a file listing packages, one a line')
    .option('--kernel <path>', "kernel to boot; default: Debian's cloud kernel")
    .option('--initrd <path>', 'initrd for --kernel')
    .option('--modules <dir>', 'modules of --kernel (lib/modules/<version>)')
    .option('--size <size>', 'rootfs size, e.g. 512M or 4G')
    .option('--docker', "install Docker from Debian's packages", false)
    .option('--service <NAME[:PORT][@USER]=COMMAND>', 'a program to start at boot (repeatable)', collect)
    .option('--no-wait', 'start the job and print its id without waiting')
    .action(
      context.action(async (session, name: string, flags: BuildFlags) => {
        return finishJob(session, await session.client().buildImage(buildBody(name, flags)), flags.wait);
      }),
    );

  leafCommand(image, 'reseed <name>', "Write the daemon's current SSH key into a managed image's work seed", {
    examples: ['banger image reseed default'],
  }).action(
    context.action(async (session, name: string) => {
      const reseeded = await session.client().reseedImage(name);
      if (session.output.json) return session.output.printJson(reseeded);
      session.output.line(`image ${reseeded.name} now holds key ${reseeded.seededSshPublicKeyFingerprint}`);
    }),
  );

  leafCommand(image, 'warm <name>', 'Make a warm snapshot of an image: later creates from it restore instead of booting', {
    details:
      'Runs as a job (boot, settle, snapshot, remove_vm, persisted): boots a VM from the image, waits for its agent, the given ports ' +
      'and the guest to go idle, ' +
      'snapshots it and deletes it. Afterwards `banger vm create --image NAME` restores the snapshot when --cpus, --memory and ' +
      '--disk match it (--no-warm boots cold). Re-seeding, re-registering or deleting the image drops the snapshot.',
    examples: ['banger image warm default', 'banger image warm web --port 8080 --cpus 2 --memory 1024'],
  })
    .option('--cpus <n>', 'vCPUs of the warm VM (default 1)')
    .option('--memory <MiB>', 'memory of the warm VM in MiB (default 512)')
    .option('--port <port>', 'guest port to wait for before the snapshot (repeatable)', collect)
    .option('--no-wait', 'start the job and print its id without waiting')
    .action(
      context.action(async (session, name: string, flags: { cpus?: string; memory?: string; port?: string[]; wait: boolean }) => {
        const body = { cpus: wholeNumber('--cpus', flags.cpus), memoryMiB: wholeNumber('--memory', flags.memory), ports: flags.port?.map((port) => wholeNumber('--port', port) as number) };
        return finishJob(session, await session.client().warmImage(name, body), flags.wait);
      }),
    );

  leafCommand(image, 'rm <name>', 'Delete an image; a managed image loses its artifact files too', {
    examples: ['banger image rm debian'],
  })
    .alias('delete')
    .action(
      context.action(async (session, name: string) => {
        const deleted = await session.client().deleteImage(name);
        if (session.output.json) return session.output.printJson(deleted);
        const artifacts = deleted.managed && deleted.artifactDir ? `; its files in ${deleted.artifactDir} were removed` : '';
        session.output.line(`image ${deleted.name} deleted${artifacts}`);
      }),
    );
}

interface BuildFlags {
  recipe?: BuildImageRequest['recipe'];
  baseRootfs?: string;
  package?: string[];
  packagesFile?: string;
  kernel?: string;
  initrd?: string;
  modules?: string;
  size?: string;
  docker?: boolean;
  service?: string[];
  wait: boolean;
}

function buildBody(name: string, flags: BuildFlags): BuildImageRequest {
  return {
    name,
    recipe: flags.recipe,
    baseRootfs: absolute(flags.baseRootfs),
    packages: flags.package,
    packagesFile: absolute(flags.packagesFile),
    kernel: absolute(flags.kernel),
    initrd: absolute(flags.initrd),
    modulesDir: absolute(flags.modules),
    size: flags.size,
    docker: flags.docker === true,
    services: flags.service?.map(parseServiceFlag),
  };
}

/** NAME[:PORT][@USER]=COMMAND; the daemon checks the parts themselves. */
export function parseServiceFlag(text: string): ImageServiceRequest {
  const equals = text.indexOf('=');
  const head = /^([^:@=]+)(?::(\d+))?(?:@([^:@=]+))?$/.exec(equals < 0 ? '' : text.slice(0, equals));
  const command = text.slice(equals + 1);
  if (!head?.[1] || command.trim() === '') {
    throw new UsageError(`--service expects NAME[:PORT][@USER]=COMMAND, e.g. 'web:8000=python3 -m http.server 8000', got "${text}"`);
  }
  return { name: head[1], command, ...(head[2] ? { port: Number(head[2]) } : {}), ...(head[3] ? { user: head[3] } : {}) };
}

// Left-out options stay undefined, which JSON leaves out of the body.
function absolute(path: string | undefined): string | undefined {
  return path === undefined ? undefined : resolve(path);
}

/** The daemon only accepts absolute paths; making them absolute here is what a shell user expects. */
function registerBody(name: string, flags: RegisterFlags): RegisterImageRequest {
  return {
    name,
    rootfsPath: resolve(flags.rootfs),
    kernelPath: absolute(flags.kernel),
    workSeedPath: absolute(flags.workSeed),
    initrdPath: absolute(flags.initrd),
    modulesDir: absolute(flags.modules),
    packagesPath: absolute(flags.packages),
    docker: flags.docker === true,
  };
}

function showImage(session: Session, image: Image): void {
  session.output.fields([
    ['name', image.name],
    ['id', image.id],
    ['managed', image.managed ? `yes (${orDash(image.artifactDir)})` : 'no'],
    ['rootfs', image.rootfsPath],
    ['work seed', orDash(image.workSeedPath)],
    ['kernel', image.kernelPath],
    ['initrd', orDash(image.initrdPath)],
    ['modules', orDash(image.modulesDir)],
    ['packages', image.packagesPath ? `${image.packagesPath} (sha256 ${orDash(image.packagesSha256)})` : '-'],
    ['docker', yesNo(image.docker)],
    ['services', image.services.map((service) => `${service.name}${service.port === null ? '' : `:${service.port}`}${service.user === null ? '' : `@${service.user}`} = ${service.command}`).join('\n') || '-'],
    ['build size', orDash(image.buildSize)],
    ['ssh key', orDash(image.seededSshPublicKeyFingerprint)],
    ['created', formatTime(image.createdAt)],
    ['updated', formatTime(image.updatedAt)],
  ]);
}
