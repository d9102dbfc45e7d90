import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { Option, type Command } from 'commander';
import { targetIdOf } from '../../job-target.js';
import type { CreateVmRequest, Vm, VmState } from '../../types.js';
import { collect, groupCommand, leafCommand } from '../command-builder.js';
import type { CliContext, Session } from '../context.js';
import { finishJob, followJob, printJobId } from '../follow.js';
import { formatDuration, formatTime, orDash, wholeNumber } from '../format.js';
import { UsageError } from '../output.js';
import { allPages } from '../all-pages.js';
import { vmCopyCommand } from './vm-cp.js';
import { vmExecCommand } from './vm-exec.js';

const vmStates: VmState[] = ['creating', 'starting', 'running', 'paused', 'stopping', 'stopped', 'failed', 'deleting'];

interface CreateFlags {
  image?: string;
  snapshot?: string;
  warm: boolean;
  start: boolean;
  cpus?: string;
  memory?: string;
  disk?: string;
  port?: string[];
  label?: string[];
  ttl?: string;
  wait: boolean;
}


export function vmCommands(program: Command, context: CliContext): void {
  const vm = groupCommand(program, 'vm', 'Create, reach and throw away VMs', [
    'banger vm create web --image default --port 8080',
    'banger vm ssh web -- uname -a',
    'banger vm rm web',
  ]);

  leafCommand(vm, 'create [name]', 'Create a VM from an image (or a snapshot) and boot it; prints how to reach it', {
    details:
      'Runs as a job and shows its stages as they happen (validate, clone_disks, seed_work_disk, allocate_network, spawn, ' +
      'kernel_boot, agent_ready, ports_ready, running). With --snapshot, or with --image when the image has a warm snapshot ' +
      '(banger image warm) whose resources match, the VM is restored instead of booted (validate, clone_disks, restore_state, ' +
      'resume, reidentify, agent_ready, ports_ready, running). Without a name one is generated (vm-<6 hex>). Each --port is a guest ' +
      'TCP port published on 127.0.0.1 and waited for; SSH (22) is always published. --ttl deletes the VM after that long. ' +
      '--no-start makes the disks and reserves the ports but does not boot: the VM ends stopped, for banger vm start.',
    examples: [
      'banger vm create web --image default --port 22 --port 8080',
      'banger vm create --image tiny --label ci-run=4711 --ttl 30m',
      'banger vm create big --image default --cpus 2 --memory 2048 --disk 8G',
      'banger vm create clone-1 --snapshot web-ready',
      'banger vm create cold --image default --no-warm',
      'banger vm create later --image default --port 8080 --no-start',
    ],
  })
    .option('--image <image>', 'image name or id (this or --snapshot)')
    .option('--snapshot <snapshot>', 'restore this snapshot (name or id) instead of booting; resources come from it')
    .option('--no-warm', "boot cold even when the image has a warm snapshot")
    .option('--no-start', 'create it stopped (disks made, ports reserved) without booting; boot it later with banger vm start')
    .option('--cpus <n>', 'vCPUs (default 1)')
    .option('--memory <MiB>', 'memory in MiB (default 512)')
    .option('--disk <size>', "work disk (/root) size, e.g. 4G (default 1G or the image's work seed)")
    .option('--port <port>', 'guest TCP port to publish and wait for (repeatable)', collect)
    .option('--label <key=value>', 'a label (repeatable)', collect)
    .option('--ttl <duration>', 'delete the VM this long after creation: 90s, 30m, 2h, 1d or seconds')
    .option('--no-wait', 'start the job and print its id without waiting')
    .action(
      context.action(async (session, name: string | undefined, flags: CreateFlags) => {
        const client = session.client();
        const job = await client.createVm(createBody(name, flags));
        if (!flags.wait) return printJobId(session, job);
        const code = await followJob(session, job);
        if (code !== 0 || session.output.json) return code;
        const created = await client.getVm(targetIdOf(job));
        if (created.state === 'stopped') session.output.line(`vm ${created.name} is stopped (created without starting); boot it with: banger vm start ${created.name}`);
        else printConnection(session, created);
        return 0;
      }),
    );

  leafCommand(vm, 'ls', 'List VMs, ordered by name', {
    examples: ['banger vm ls', 'banger vm ls --state running --label ci-run=4711', 'banger vm ls --json'],
  })
    .alias('list')
    .addOption(new Option('--state <state>', 'only VMs in this state').choices(vmStates))
    .option('--label <key=value>', 'only VMs with this label (repeatable: all must match)', collect)
    .action(
      context.action(async (session, flags: { state?: VmState; label?: string[] }) => {
        const vms = await allPages((page) => session.client().listVms({ state: flags.state, label: flags.label, ...page }));
        if (session.output.json) return session.output.printJson(vms);
        if (vms.length === 0) return session.output.line('no VMs; create one with: banger vm create NAME --image IMAGE');
        session.output.table(
          ['NAME', 'ID', 'STATE', 'IMAGE', 'CPUS', 'MEMORY', 'PORTS', 'CREATED'],
          vms.map((item) => [
            item.name,
            item.id,
            item.state,
            item.image.name ?? item.image.id,
            String(item.cpus),
            `${item.memoryMiB}M`,
            item.ports.map((port) => `${port.guestPort}→${port.hostPort}`).join(',') || '-',
            formatTime(item.createdAt),
          ]),
        );
      }),
    );

  leafCommand(vm, 'show <name>', 'Show one VM, by name or id', { examples: ['banger vm show web', 'banger vm show web --json'] }).action(
    context.action(async (session, name: string) => {
      const found = await session.client().getVm(name);
      if (session.output.json) return session.output.printJson(found);
      showVm(session, found);
    }),
  );

  leafCommand(vm, 'ssh <name> [command...]', "Open an SSH session to the VM with the daemon's key, or run a command in it", {
    details:
      "Runs ssh on this host with the daemon's private key against the VM's published SSH port on 127.0.0.1, so it works " +
      'where the daemon runs. Put the command after --. The exit code is ssh\'s.',
    examples: ['banger vm ssh web', 'banger vm ssh web -- uname -a'],
  }).action(
    context.action(async (session, name: string, command: string[] = []) => {
      const found = await session.client().getVm(name);
      if (found.state !== 'running') {
        throw new Error(`VM ${found.name} is ${found.state}; only a running VM can be reached (banger vm start ${found.name})`);
      }
      if (!found.ssh) throw new Error(`VM ${found.name} publishes no SSH port`);
      return runSsh(sshArgs(found.ssh, command), session.env);
    }),
  );

  vmExecCommand(vm, context);
  vmCopyCommand(vm, context);

  leafCommand(vm, 'stop <name>', 'Stop a running VM: ACPI power button, then the hypervisor quits after a grace', {
    examples: ['banger vm stop web', 'banger vm stop web --grace 0'],
  })
    .option('--grace <seconds>', 'how long the guest gets to power off by itself (daemon default 30)')
    .option('--no-wait', 'start the job and print its id without waiting')
    .action(
      context.action(async (session, name: string, flags: { grace?: string; wait: boolean }) => {
        const job = await session.client().stopVm(name, { graceSeconds: wholeNumber('--grace', flags.grace) });
        return finishJob(session, job, flags.wait);
      }),
    );

  for (const [verb, description] of [
    ['pause', 'Pause a running VM: its vCPUs stop; memory, disks and ports stay'],
    ['resume', 'Resume a paused VM where it stopped'],
  ] as const) {
    leafCommand(vm, `${verb} <name>`, description, { examples: [`banger vm ${verb} web`] }).action(
      context.action(async (session, name: string) => {
        const client = session.client();
        const changed = verb === 'pause' ? await client.pauseVm(name) : await client.resumeVm(name);
        if (session.output.json) return session.output.printJson(changed);
        session.output.line(`vm ${changed.name} is ${changed.state}`);
      }),
    );
  }

  leafCommand(vm, 'start <name>', 'Boot a stopped VM again from its disks', { examples: ['banger vm start web'] })
    .option('--no-wait', 'start the job and print its id without waiting')
    .action(
      context.action(async (session, name: string, flags: { wait: boolean }) => {
        const client = session.client();
        const job = await client.startVm(name);
        const code = await finishJob(session, job, flags.wait);
        if (code === 0 && flags.wait && !session.output.json) printConnection(session, await client.getVm(targetIdOf(job)));
        return code;
      }),
    );

  leafCommand(vm, 'restart <name>', 'Stop a VM (if it runs) and boot it again', { examples: ['banger vm restart web'] })
    .option('--grace <seconds>', 'how long the guest gets to power off by itself (daemon default 30)')
    .option('--no-wait', 'start the job and print its id without waiting')
    .action(
      context.action(async (session, name: string, flags: { grace?: string; wait: boolean }) => {
        const job = await session.client().restartVm(name, { graceSeconds: wholeNumber('--grace', flags.grace) });
        return finishJob(session, job, flags.wait);
      }),
    );

  leafCommand(vm, 'rm [names...]', 'Delete VMs: their processes, disks and port reservations go', {
    details: 'Name VMs, or select them with --label (one job deletes every VM carrying all the given labels).',
    examples: ['banger vm rm web', 'banger vm rm web db', 'banger vm rm --label ci-run=4711'],
  })
    .alias('delete')
    .option('--label <key=value>', 'delete every VM with this label (repeatable: all must match)', collect)
    .option('--no-wait', 'start the job(s) and print the id(s) without waiting')
    .action(
      context.action(async (session, names: string[] = [], flags: { label?: string[]; wait: boolean }) => {
        const client = session.client();
        if ((names.length === 0) === (flags.label === undefined)) throw new UsageError('name the VMs to delete, or select them with --label key=value (not both)');
        if (flags.label) return finishJob(session, await client.deleteVmsByLabel(labelsFrom(flags.label, '--label')), flags.wait);
        let code = 0;
        for (const name of names) code = Math.max(code, await finishJob(session, await client.deleteVm(name), flags.wait));
        return code;
      }),
    );

  leafCommand(vm, 'console <name>', "Print the VM's serial console log", { examples: ['banger vm console web', 'banger vm console web --tail 50'] })
    .option('--tail <lines>', 'only the last N lines')
    .action(
      context.action(async (session, name: string, flags: { tail?: string }) => {
        const text = await session.client().vmConsole(name, { tail: wholeNumber('--tail', flags.tail) });
        session.output.stdout.write(text);
      }),
    );
}

function createBody(name: string | undefined, flags: CreateFlags): CreateVmRequest {
  if ((flags.image === undefined) === (flags.snapshot === undefined)) throw new UsageError('pass --image IMAGE or --snapshot SNAPSHOT (one of them)');
  if (flags.start === false && flags.snapshot !== undefined) throw new UsageError('--no-start cannot go with --snapshot: a restore resumes a running guest');
  return {
    name,
    image: flags.image,
    snapshot: flags.snapshot,
    warm: flags.warm === false ? false : undefined,
    start: flags.start === false ? false : undefined,
    cpus: wholeNumber('--cpus', flags.cpus),
    memoryMiB: wholeNumber('--memory', flags.memory),
    workDiskSize: flags.disk,
    ports: flags.port?.map((port) => {
      const value = wholeNumber('--port', port) as number;
      if (value < 1 || value > 65535) throw new UsageError(`--port expects a TCP port number, got "${port}"`);
      return value;
    }),
    labels: flags.label ? labelsFrom(flags.label, '--label') : undefined,
    ttlSeconds: flags.ttl === undefined ? undefined : parseDuration(flags.ttl),
  };
}


export function labelsFrom(pairs: string[], flag: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`${flag} expects key=value, got "${pair}"`);
    labels[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return labels;
}

const durationUnits: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `90`, `90s`, `30m`, `2h`, `1d`, `1h30m`: seconds. */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const parts = [...trimmed.matchAll(/(\d+)([smhd])/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== trimmed) {
    throw new UsageError(`--ttl expects a duration like 90s, 30m, 2h or 1d, got "${text}"`);
  }
  return parts.reduce((total, part) => total + Number(part[1]) * (durationUnits[part[2] as string] ?? 0), 0);
}

function printConnection(session: Session, vm: Vm): void {
  const { output } = session;
  const took = vm.timings?.total === undefined ? '' : ` (boot ${formatDuration(vm.timings.total)})`;
  output.line(`vm ${vm.name} is ${vm.state}${took}: ${vm.hypervisor}/${vm.accel ?? '?'}, pid ${vm.pid ?? '-'}`);
  if (vm.ssh) {
    output.line(`  ssh:   banger vm ssh ${vm.name}`);
    output.line(`         ${vm.ssh.command}`);
  }
  for (const port of vm.ports) {
    if (vm.ssh && port.hostPort === vm.ssh.port) continue;
    output.line(`  port ${port.guestPort}: ${port.hostAddress}:${port.hostPort}`);
  }
  if (vm.expiresAt) output.line(`  deleted at ${formatTime(vm.expiresAt)} (ttl)`);
}

function showVm(session: Session, vm: Vm): void {
  const timings = vm.timings
    ? Object.entries(vm.timings)
        .map(([phase, ms]) => `${phase} ${formatDuration(ms)}`)
        .join(', ')
    : '-';
  session.output.fields([
    ['name', vm.name],
    ['id', vm.id],
    ['state', vm.state + (vm.stateReason ? ` (${vm.stateReason.code}: ${vm.stateReason.message})` : '')],
    ['image', `${vm.image.name ?? '?'} (${vm.image.id})`],
    ['resources', `${vm.cpus} vCPU, ${vm.memoryMiB} MiB, work disk ${vm.workDiskSize}`],
    ['hypervisor', `${vm.hypervisor}${vm.accel ? ` (${vm.accel})` : ''}${vm.pid ? `, pid ${vm.pid}` : ''}`],
    ['ports', vm.ports.map((port) => `${port.guestPort} → ${port.hostAddress}:${port.hostPort}${port.wait ? '' : ' (not waited for)'}`).join(', ') || '-'],
    ['ssh', vm.ssh ? vm.ssh.command : '-'],
    ['services', vm.services.map(describeService).join(', ') || '-'],
    ['labels', Object.entries(vm.labels).map(([key, value]) => `${key}=${value}`).join(', ') || '-'],
    ['expires', vm.expiresAt ? `${formatTime(vm.expiresAt)} (ttl ${vm.ttlSeconds} s)` : '-'],
    ['timings', timings],
    ['booted', `${formatTime(vm.bootedAt)}${vm.bootMode ? ` (${vm.bootMode})` : ''}`],
    ['snapshot', vm.baseSnapshot ? vm.baseSnapshot.id : '-'],
    ['host overhead', vm.hostOverheadBytes === null ? '-' : `${Math.round(vm.hostOverheadBytes / 1024 / 1024)} MiB beyond guest RAM`],
    ['dir', orDash(vm.dir)],
    ['console', orDash(vm.consoleLogPath)],
    ['created', formatTime(vm.createdAt)],
  ]);
}

function describeService(service: Vm['services'][number]): string {
  const port = service.port === null ? '' : `:${service.port}`;
  if (service.up) return `${service.name}${port} up`;
  if (service.state === 'exited') return `${service.name}${port} exited (${service.exitStatus === null ? 'killed' : `status ${service.exitStatus}`})`;
  if (service.state === 'running') return `${service.name}${port} running, not listening yet`;
  return `${service.name}${port} ${service.state.replace('_', ' ')}`;
}

export function sshArgs(ssh: NonNullable<Vm['ssh']>, command: string[]): string[] {
  return [
    '-i',
    ssh.privateKeyPath,
    '-p',
    String(ssh.port),
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'LogLevel=ERROR',
    `${ssh.user}@${ssh.host}`,
    ...command,
  ];
}

/** ssh with this terminal; resolves with its exit code (255 is ssh's own failure). */
function runSsh(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', args, { stdio: 'inherit', env });
    // The terminal's Ctrl-C belongs to the remote side while ssh runs.
    const ignore = () => {};
    process.on('SIGINT', ignore);
    child.once('error', (error: NodeJS.ErrnoException) => {
      process.off('SIGINT', ignore);
      reject(error.code === 'ENOENT' ? new Error('ssh is not installed (apt-get install openssh-client)') : error);
    });
    child.once('exit', (code, signal) => {
      process.off('SIGINT', ignore);
      resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  });
}
