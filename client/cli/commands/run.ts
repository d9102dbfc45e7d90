import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import type { Command } from 'commander';
import { ProblemError } from '../../errors.js';
import { targetIdOf } from '../../job-target.js';
import type { Job } from '../../types.js';
import { collect, leafCommand } from '../command-builder.js';
import type { CliContext, Session } from '../context.js';
import { formatBytes, formatDuration, wholeNumber } from '../format.js';
import { copyIntoGuest, copyOutOfGuest } from '../guest-copy.js';
import { interrupted, interruptible, INTERRUPTED_EXIT_CODE } from '../interrupt.js';
import { statOrNull } from '../local-files.js';
import { UsageError } from '../output.js';
import { labelsFrom, parseDuration } from './vms.js';
import { execBody, streamExec, withExecOptions, type ExecFlags } from './vm-exec.js';

interface RunFlags extends ExecFlags {
  image: string;
  name?: string;
  cpus?: string;
  memory?: string;
  disk?: string;
  ttl: string;
  label?: string[];
  copy?: string[];
  artifact?: string[];
  warm: boolean;
  keep?: boolean;
}

/** A --copy LOCAL:/guest or an --artifact /guest:LOCAL. */
interface Transfer {
  local: string;
  guest: string;
}

/** Every VM banger run makes carries it, so that leftovers (after a kill -9) can be found: banger vm ls --label banger-run=true. */
const RUN_LABEL = 'banger-run';

export function runCommand(program: Command, context: CliContext): void {
  const command = leafCommand(program, 'run <command...>', 'Run one command in a fresh VM, then throw the VM away: the CI step', {
    details:
      'Creates a VM from --image (restored from its warm snapshot when it has one), copies each --copy into it, runs the ' +
      'command with its output live, copies each --artifact out (also when the command failed), deletes the VM, and exits ' +
      'with the command’s status. The VM is deleted also when the create fails, a copy fails, or on Ctrl-C; --ttl is the ' +
      'safety net for a banger run that is itself killed (kill -9): the daemon deletes the VM then. Progress goes to stderr, ' +
      'the command’s own output to stdout and stderr as it writes them.\n\n' +
      'Exit status: the command’s (128+N for signal N); 1 when the VM could not be made or a copy in failed; 130 on Ctrl-C. ' +
      'A missing artifact is reported on stderr and does not change the status.',
    examples: [
      'banger run --image ci -- make test',
      'banger run --image ci --copy .:/root/src -w /root/src --artifact /root/src/out:./out -- make dist',
      'banger run --image tiny --ttl 10m -e CI=1 -- sh -c "uname -a; exit 3"; echo $?',
    ],
  })
    .requiredOption('--image <image>', 'image name or id')
    .option('--name <name>', 'the VM’s name (default run-<6 hex>)')
    .option('--cpus <n>', 'vCPUs (default 1)')
    .option('--memory <MiB>', 'memory in MiB (default 512)')
    .option('--disk <size>', "work disk (/root) size, e.g. 4G (default 1G or the image's work seed)")
    .option('--ttl <duration>', 'delete the VM after this long even if banger run dies: 90s, 30m, 2h', '1h')
    .option('--label <key=value>', 'a label on the VM (repeatable)', collect)
    .option('--copy <local:/guest/path>', 'copy a local file or directory in before the command (repeatable)', collect)
    .option('--artifact </guest/path:local>', 'copy a guest file or directory out after it (repeatable; made beside missing parents)', collect)
    .option('--no-warm', 'boot cold even when the image has a warm snapshot')
    .option('--keep', 'keep the VM afterwards (its name is printed), e.g. to look around with banger vm exec');
  withExecOptions(command).action(context.action(async (session, argv: string[], flags: RunFlags) => run(session, argv, flags)));
}

async function run(session: Session, argv: string[], flags: RunFlags): Promise<number> {
  const copies: Array<Transfer & { stats: Stats }> = [];
  for (const spec of flags.copy ?? []) {
    const copy = transfer('--copy', spec, 'in');
    const stats = await statOrNull(copy.local);
    if (!stats) throw new UsageError(`--copy ${copy.local}: no such file or directory`);
    copies.push({ ...copy, stats });
  }
  const artifacts = (flags.artifact ?? []).map((spec) => transfer('--artifact', spec, 'out'));
  const body = execBody(argv, flags);
  const name = flags.name ?? `run-${randomBytes(3).toString('hex')}`;
  const client = session.client();
  const say = (line: string): void => {
    if (!session.output.json) session.output.stderr.write(`banger: ${line}\n`);
  };

  // Ctrl-C and SIGTERM stop the work; the VM still goes in finally.
  const status = await interruptible(async (signal) => {
    let job: Job | undefined;
    let vmId: string | undefined;
    try {
      const started = performance.now();
      say(`creating VM ${name} from image ${flags.image}`);
      job = await client.createVm({
        name,
        image: flags.image,
        warm: flags.warm === false ? false : undefined,
        cpus: wholeNumber('--cpus', flags.cpus),
        memoryMiB: wholeNumber('--memory', flags.memory),
        workDiskSize: flags.disk,
        labels: { ...labelsFrom(flags.label ?? [], '--label'), [RUN_LABEL]: 'true' },
        ttlSeconds: parseDuration(flags.ttl),
      });
      vmId = targetIdOf(job);
      const created = await client.waitJob(job.id, { signal });
      if (created.status !== 'succeeded') {
        if (created.error) session.output.problem(created.error);
        else say(`creating VM ${name} ${created.status}`);
        return 1;
      }
      const vm = await client.getVm(vmId);
      say(`VM ${name} running (${vm.bootMode === 'warm' ? 'restored' : 'booted'} in ${formatDuration(performance.now() - started)})`);

      for (const copy of copies) {
        const written = await copyIntoGuest(client, copy.local, copy.stats, { vm: vmId, path: copy.guest }, { mkdirs: true, signal });
        say(`copied ${copy.local} to ${written.path} (${formatBytes(written.sizeBytes)})`);
      }

      try {
        return await streamExec(session, vmId, body, signal);
      } finally {
        // Artifacts come out also after a failing command: its logs are what the run is for then.
        if (!signal.aborted) await copyArtifacts(session, vmId, artifacts, say);
      }
    } finally {
      await throwAway(session, name, job, vmId, flags.keep === true, say);
    }
  });
  return status === interrupted ? INTERRUPTED_EXIT_CODE : status;
}

async function copyArtifacts(session: Session, vmId: string, artifacts: Transfer[], say: (line: string) => void): Promise<void> {
  for (const artifact of artifacts) {
    try {
      const written = await copyOutOfGuest(session.client(), { vm: vmId, path: artifact.guest }, artifact.local, { mkdirs: true });
      say(`artifact ${artifact.guest} → ${written.path} (${formatBytes(written.sizeBytes)})`);
    } catch (error) {
      const why = error instanceof ProblemError ? error.problem.detail : error instanceof Error ? error.message : String(error);
      say(`artifact ${artifact.guest} not copied: ${why}`);
    }
  }
}

/** Deletes the run's VM (cancelling its create first if that still runs), unless --keep. */
async function throwAway(session: Session, name: string, job: Job | undefined, vmId: string | undefined, keep: boolean, say: (line: string) => void): Promise<void> {
  if (vmId === undefined) return;
  const client = session.client();
  if (keep) {
    say(`kept VM ${name}: banger vm exec ${name} -- sh, then banger vm rm ${name}`);
    return;
  }
  try {
    if (job) {
      const current = await client.getJob(job.id);
      if (current.status === 'queued' || current.status === 'running') {
        await client.cancelJob(job.id).catch(() => undefined);
        await client.waitJob(job.id, { timeoutMs: 120_000 });
      }
    }
    const deletion = await client.deleteVm(vmId);
    const deleted = await client.waitJob(deletion.id, { timeoutMs: 120_000 });
    if (deleted.status !== 'succeeded') say(`could not delete VM ${name}: ${deleted.error?.detail ?? deleted.status}; its TTL will`);
  } catch (error) {
    if (error instanceof ProblemError && error.problem.code === 'vm-not-found') return;
    say(`could not delete VM ${name}: ${error instanceof Error ? error.message : String(error)}; its TTL will`);
  }
}

/**
 * LOCAL:/guest/path for --copy, /guest/path:LOCAL for --artifact. The guest side is absolute, so
 * the split is at the colon that starts (--copy) or ends (--artifact) it.
 */
export function transfer(flag: string, spec: string, direction: 'in' | 'out'): Transfer {
  const at = direction === 'in' ? spec.lastIndexOf(':/') : spec.indexOf(':');
  const [local, guest] = direction === 'in' ? [spec.slice(0, at), spec.slice(at + 1)] : [spec.slice(at + 1), spec.slice(0, at)];
  if (at <= 0 || local === '' || !guest.startsWith('/')) {
    const shape = direction === 'in' ? 'LOCAL:/guest/path' : '/guest/path:LOCAL';
    throw new UsageError(`${flag} expects ${shape}, got "${spec}"`);
  }
  return { local, guest };
}
