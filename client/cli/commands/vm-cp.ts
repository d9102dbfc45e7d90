import type { Stats } from 'node:fs';
import type { Command } from 'commander';
import type { WrittenPath } from '../../types.js';
import { leafCommand } from '../command-builder.js';
import type { CliContext } from '../context.js';
import { formatBytes, formatDuration } from '../format.js';
import { interrupted, interruptible, INTERRUPTED_EXIT_CODE } from '../interrupt.js';
import { copyIntoGuest, copyOutOfGuest, type GuestLocation } from '../guest-copy.js';
import { statOrNull } from '../local-files.js';
import { UsageError } from '../output.js';

interface CopyFlags {
  mkdirs?: boolean;
  quiet?: boolean;
}


type CopyPlan =
  | { direction: 'in'; local: string; localStats: Stats; guest: GuestLocation }
  | { direction: 'out'; guest: GuestLocation; local: string };

export function vmCopyCommand(vm: Command, context: CliContext): void {
  leafCommand(vm, 'cp <src> <dst>', 'Copy a file or a directory into or out of a running VM', {
    details:
      'One of SRC and DST is NAME:/absolute/path in a running VM, the other a path on this host. Goes through the daemon ' +
      '(GET and PUT /vms/{name}/files over the guest shell channel), so it needs no SSH port or guest network, and streams: ' +
      'any size passes. Files keep their permission bits. Directories travel as tar with their symlinks and modes, less ' +
      'group and other write permission (as cp -r under umask 022); owners become the receiving user (root in the guest). ' +
      'Nothing is left half-written when a copy fails or is interrupted, except entries already merged into an existing ' +
      'local directory.\n\n' +
      'Into a VM: the guest path names the file or directory to write; a directory is created, or merged into an ' +
      'existing one. End the guest path with / to copy into that directory under the source\'s name instead. ' +
      'Out of a VM: like cp -r, an existing local directory as DST receives the copy under the guest name; otherwise DST is ' +
      'the new name. Missing parent directories of the destination are an error unless --mkdirs (so that a mistyped path ' +
      'fails rather than builds a tree). Prints a one-line summary on stderr; --json prints the written path on stdout.',
    examples: [
      'banger vm cp ./app.conf web:/etc/app.conf',
      'banger vm cp ./site web:/srv/www            # ./site\'s contents into /srv/www',
      'banger vm cp ./site web:/srv/               # into /srv/site',
      'banger vm cp --mkdirs ./build web:/opt/app/releases/42',
      'banger vm cp web:/var/log/app.log .',
      'banger vm cp web:/etc ./web-etc',
    ],
  })
    .option('-p, --mkdirs', 'create missing parent directories of the destination (default: fail)')
    .option('-q, --quiet', 'print no summary')
    .action(
      context.action(async (session, source: string, destination: string, flags: CopyFlags) => {
        const plan = await copyPlan(source, destination);
        const started = performance.now();
        const written = await interruptible((signal) =>
          plan.direction === 'in'
            ? copyIntoGuest(session.client(), plan.local, plan.localStats, plan.guest, { mkdirs: flags.mkdirs, signal })
            : copyOutOfGuest(session.client(), plan.guest, plan.local, { mkdirs: flags.mkdirs, signal }),
        );
        if (written === interrupted) return INTERRUPTED_EXIT_CODE;
        if (session.output.json) return session.output.printJson(written);
        if (!flags.quiet) session.output.stderr.write(`${summary(plan, written, performance.now() - started)}\n`);
      }),
    );
}

async function copyPlan(source: string, destination: string): Promise<CopyPlan> {
  const [from, to] = [guestLocation(source), guestLocation(destination)];
  if (from && to) throw new UsageError('copy between a VM and this host: one of SRC and DST must be a local path');
  if (!from && !to) throw new UsageError('one of SRC and DST must be in a VM, as NAME:/absolute/path (for a copy on this host, use cp)');
  if (to) {
    const stats = await statOrNull(source);
    if (!stats) throw new UsageError(`${source}: no such file or directory`);
    if (!stats.isFile() && !stats.isDirectory()) throw new UsageError(`${source} is neither a regular file nor a directory`);
    return { direction: 'in', local: source, localStats: stats, guest: to };
  }
  return { direction: 'out', guest: from as GuestLocation, local: destination };
}

/**
 * NAME:/path, or undefined for a local path. As with scp, a colon before any slash marks a VM:
 * write ./a:b for a local file with a colon in its name.
 */
function guestLocation(argument: string): GuestLocation | undefined {
  const match = /^([^/:]+):(.*)$/s.exec(argument);
  if (!match) return undefined;
  const [, vm = '', path = ''] = match;
  if (!path.startsWith('/')) {
    throw new UsageError(`"${argument}": the path in VM ${vm} must be absolute, as in ${vm}:/root/file (a local path with a colon is written ./${argument})`);
  }
  return { vm, path };
}

/** "copied 30.0 MiB to web:/root/x in 1.4s"; a directory's size is its tar archive's. */
function summary(plan: CopyPlan, written: WrittenPath, elapsedMs: number): string {
  const size = `${formatBytes(written.sizeBytes)}${written.type === 'directory' ? ' (tar)' : ''}`;
  const where = plan.direction === 'in' ? `to ${plan.guest.vm}:${written.path}` : `from ${plan.guest.vm}:${plan.guest.path} to ${written.path}`;
  return `copied ${size} ${where} in ${formatDuration(elapsedMs)}`;
}
