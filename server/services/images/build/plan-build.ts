import { basename } from 'node:path';
import type { BuildImageBody } from '../../../schemas/image-build.js';
import type { FieldError } from '../../errors.js';
import { idShapedNameErrors, newId } from '../../ids.js';
import { normalizePackages } from '../packages.js';
import type { ImportRoots } from '../import-roots.js';
import { Preflight } from '../preflight.js';
import type { BuildPlan, BuildSource, SuppliedKernel } from './build-plan.js';
import { checkSize, defaultSizes, invalidPackageNames } from './build-request.js';
import { validationError } from '../../errors.js';
import { BUSYBOX_PROBE_PORT } from '../../../guest/busybox-rootfs.js';
import { sshGuestPort } from '../../../domain/vm.js';

export type BuildImageInput = BuildImageBody;

/**
 * Checks a build request completely before any job exists; every problem is reported at once. Host
 * paths must be what they claim to be and lie inside `roots` (null: anywhere).
 */
export async function planBuild(input: BuildImageInput, roots: ImportRoots | null): Promise<BuildPlan> {
  const errors: FieldError[] = [];
  const sourceCount = Number(input.recipe !== undefined) + Number(input.baseRootfs !== undefined);
  if (sourceCount !== 1) {
    errors.push({
      field: 'body.recipe',
      message: sourceCount === 0 ? 'a source is required' : 'recipe and baseRootfs exclude each other',
      hint: 'give exactly one of recipe (debian-bookworm, busybox) or baseRootfs (an ext4 image path)',
    });
  }
  if (input.packages !== undefined && input.packagesFile !== undefined) {
    errors.push({ field: 'body.packagesFile', message: 'packages and packagesFile exclude each other', hint: 'list packages inline or in a file, not both' });
  }
  const sizeText = input.size ?? defaultSizes[input.recipe ?? 'baseRootfs'];
  const size = checkSize({ field: 'body.size', text: sizeText });
  if ('field' in size) errors.push(size);
  if (input.kernel === undefined && (input.initrd !== undefined || input.modulesDir !== undefined)) {
    errors.push({ field: 'body.kernel', message: 'initrd and modulesDir belong to a kernel', hint: 'pass kernel too, or leave all three out for the default kernel' });
  }
  if (input.kernel !== undefined && input.initrd === undefined && input.modulesDir === undefined) {
    errors.push({ field: 'body.modulesDir', message: 'a supplied kernel needs its modules dir (to build an initrd) or an initrd', hint: 'pass modulesDir, initrd, or both' });
  }
  const inlinePackages = normalizePackages(input.packages ?? []);
  const badNames = invalidPackageNames(inlinePackages);
  if (badNames.length > 0) {
    errors.push({ field: 'body.packages', message: `not Debian package names: ${badNames.join(', ')}`, hint: 'use names like curl or python3-venv' });
  }
  if (input.recipe === 'busybox' && (inlinePackages.length > 0 || input.packagesFile !== undefined || input.docker)) {
    errors.push({ field: 'body.packages', message: 'the busybox recipe has no package manager', hint: 'use recipe debian-bookworm for packages and docker' });
  }
  errors.push(...serviceErrors(input));
  errors.push(...idShapedNameErrors('body.name', input.name));
  if (errors.length > 0) throw validationError(`Cannot build image ${input.name}`, errors);

  const checks = new Preflight(roots);
  if (input.baseRootfs !== undefined) {
    await checks.requireFile('baseRootfs', input.baseRootfs, 'ext4', 'base rootfs', 'pass an ext4 image (file says "ext4 filesystem data"), e.g. a rootfs.ext4 banger built');
  }
  let packagesText: string | null = null;
  if (input.packagesFile !== undefined) {
    packagesText = await checks.readTextFile('packagesFile', input.packagesFile, 'packages file', 'pass the absolute path of a text file with one package a line');
  }
  if (input.kernel !== undefined) await checks.requireFile('kernel', input.kernel, 'kernel', 'kernel', 'pass the absolute path of a Linux kernel (a bzImage such as vmlinuz, or an ELF vmlinux)');
  if (input.initrd !== undefined) await checks.requireFile('initrd', input.initrd, 'initrd', 'initrd', 'pass the absolute path of an initrd (a cpio archive, possibly compressed)');
  if (input.modulesDir !== undefined) await checks.requireModulesDir('modulesDir', input.modulesDir, 'modules dir', 'pass the absolute path of lib/modules/<version>');
  checks.throwIfFailed(`Cannot build image ${input.name}`);

  let packages = inlinePackages;
  if (packagesText !== null) {
    const lines = packagesText.split('\n');
    packages = normalizePackages(lines);
    // Line numbers, not the lines: the daemon reads as root, so the file's text is not echoed back.
    const badLines = lines.flatMap((line, index) => (normalizePackages([line]).some((name) => invalidPackageNames([name]).length > 0) ? [index + 1] : []));
    if (badLines.length > 0) {
      const shown = badLines.slice(0, 20).join(', ') + (badLines.length > 20 ? `, … (${badLines.length} lines)` : '');
      throw validationError(`Cannot build image ${input.name}`, [
        { field: 'body.packagesFile', message: `not Debian package names on line${badLines.length > 1 ? 's' : ''} ${shown} of ${input.packagesFile}`, hint: 'one package name a line; # starts a comment' },
      ]);
    }
  }

  const source: BuildSource = input.recipe !== undefined ? { kind: 'recipe', recipe: input.recipe } : { kind: 'baseRootfs', path: input.baseRootfs as string };
  const kernel: SuppliedKernel | null =
    input.kernel === undefined
      ? null
      : {
          kernelPath: input.kernel,
          ...(input.initrd !== undefined ? { initrdPath: input.initrd } : {}),
          ...(input.modulesDir !== undefined ? { modulesDir: input.modulesDir, version: basename(input.modulesDir) } : {}),
        };
  return {
    id: newId(),
    name: input.name,
    source,
    packages,
    kernel,
    sizeBytes: 'bytes' in size ? size.bytes : 0,
    sizeText,
    docker: input.docker ?? false,
    services: (input.services ?? []).map((service) => ({ name: service.name, command: service.command, port: service.port ?? null, user: service.user ?? null })),
    importRoots: roots?.dirs ?? null,
  };
}

/** What the schema cannot say about a list of services: names and ports unique, ports free, commands not blank. */
function serviceErrors(input: BuildImageInput): FieldError[] {
  const errors: FieldError[] = [];
  const names = new Set<string>();
  const ports = new Map<number, string>();
  for (const [index, service] of (input.services ?? []).entries()) {
    const field = `body.services.${index}`;
    if (names.has(service.name)) {
      errors.push({ field: `${field}.name`, message: `service name ${service.name} is given twice`, hint: 'give each service its own name' });
    }
    names.add(service.name);
    if (service.command.trim() === '') {
      errors.push({ field: `${field}.command`, message: 'the command is blank', hint: 'give the command line that starts the program, e.g. "python3 -m http.server 8000"' });
    }
    if (service.port === undefined) continue;
    const reserved = reservedServicePorts(input).get(service.port);
    if (reserved !== undefined) {
      errors.push({ field: `${field}.port`, message: `port ${service.port} is taken by ${reserved}`, hint: 'serve on another port' });
    }
    const holder = ports.get(service.port);
    if (holder !== undefined) {
      errors.push({ field: `${field}.port`, message: `port ${service.port} is already service ${holder}'s`, hint: 'give each service its own port' });
    }
    ports.set(service.port, service.name);
  }
  return errors;
}

/** Guest ports the image itself serves on, with what serves them. */
function reservedServicePorts(input: BuildImageInput): Map<number, string> {
  const reserved = new Map([[sshGuestPort, 'the SSH server']]);
  if (input.recipe === 'busybox') reserved.set(BUSYBOX_PROBE_PORT, "the busybox image's HTTP probe service");
  return reserved;
}
