import type { Command } from 'commander';
import type { Snapshot } from '../../types.js';
import { groupCommand, leafCommand } from '../command-builder.js';
import type { CliContext, Session } from '../context.js';
import { finishJob } from '../follow.js';
import { formatTime } from '../format.js';
import { allPages } from '../all-pages.js';


export function snapshotCommands(program: Command, context: CliContext): void {
  const snapshot = groupCommand(program, 'snapshot', 'Memory snapshots of VMs, to restore as new VMs in a fraction of a boot', [
    'banger snapshot create web web-ready',
    'banger vm create clone-1 --snapshot web-ready',
    'banger snapshot ls',
    'banger snapshot rm web-ready',
  ]);

  leafCommand(snapshot, 'create <vm> <name>', 'Snapshot a running or paused VM: memory, devices and disks', {
    details:
      'Runs as a job (validate, pause, save_state, freeze_disks, resume or stop, persisted). The VM is paused while its state ' +
      'is saved and its disks are frozen; then it goes on above the frozen disks, or stops with --stop. Restore it with ' +
      '`banger vm create NAME --snapshot SNAPSHOT`: each restored VM gets its own hostname, entropy, clock and host ports.',
    examples: ['banger snapshot create web web-ready', 'banger snapshot create web final --stop'],
  })
    .option('--stop', 'stop the VM after the snapshot instead of letting it go on', false)
    .option('--no-wait', 'start the job and print its id without waiting')
    .action(
      context.action(async (session, vm: string, name: string, flags: { stop: boolean; wait: boolean }) => {
        return finishJob(session, await session.client().createSnapshot(vm, { name, stop: flags.stop }), flags.wait);
      }),
    );

  leafCommand(snapshot, 'ls', 'List snapshots, ordered by name', { examples: ['banger snapshot ls', 'banger snapshot ls --json'] })
    .alias('list')
    .action(
      context.action(async (session) => {
        const snapshots = await allPages((page) => session.client().listSnapshots(page));
        if (session.output.json) return session.output.printJson(snapshots);
        if (snapshots.length === 0) return session.output.line('no snapshots; take one with: banger snapshot create VM NAME');
        session.output.table(
          ['NAME', 'ID', 'STATE', 'PURPOSE', 'SOURCE VM', 'IMAGE', 'CPUS', 'MEMORY', 'SIZE', 'USED BY', 'CREATED'],
          snapshots.map((item) => [
            item.name,
            item.id,
            item.state,
            item.purpose,
            item.sourceVm.name,
            item.image.name ?? item.image.id,
            String(item.cpus),
            `${item.memoryMiB}M`,
            megabytes(item.sizeBytes),
            String(item.dependents.vms.length + item.dependents.snapshots.length),
            formatTime(item.createdAt),
          ]),
        );
      }),
    );

  leafCommand(snapshot, 'show <name>', 'Show one snapshot, by name or id', { examples: ['banger snapshot show web-ready'] }).action(
    context.action(async (session, name: string) => {
      const found = await session.client().getSnapshot(name);
      if (session.output.json) return session.output.printJson(found);
      showSnapshot(session, found);
    }),
  );

  leafCommand(snapshot, 'rm <name>', 'Delete a snapshot and its files; refused while VMs or snapshots stand on it', {
    examples: ['banger snapshot rm web-ready'],
  }).action(
    context.action(async (session, name: string) => {
      const deleted = await session.client().deleteSnapshot(name);
      if (session.output.json) return session.output.printJson(deleted);
      session.output.line(`deleted snapshot ${deleted.name} (${megabytes(deleted.sizeBytes)})`);
    }),
  );
}

function showSnapshot(session: Session, snapshot: Snapshot): void {
  const dependents = [...snapshot.dependents.vms.map((vm) => `vm ${vm.name}`), ...snapshot.dependents.snapshots.map((item) => `snapshot ${item.name}`)];
  session.output.fields([
    ['name', snapshot.name],
    ['id', snapshot.id],
    ['state', snapshot.state + (snapshot.stateMessage ? ` (${snapshot.stateMessage})` : '')],
    ['purpose', snapshot.purpose],
    ['source vm', `${snapshot.sourceVm.name}${snapshot.sourceVm.id ? ` (${snapshot.sourceVm.id})` : ' (deleted)'}`],
    ['image', `${snapshot.image.name ?? '?'} (${snapshot.image.id})`],
    ['resources', `${snapshot.cpus} vCPU, ${snapshot.memoryMiB} MiB`],
    ['memory', snapshot.memory === 'file' ? 'a RAM file restored VMs share copy-on-write' : 'inside the state file'],
    ['hypervisor', `${snapshot.hypervisor} ${snapshot.hypervisorVersion} (${snapshot.machine})`],
    ['size', megabytes(snapshot.sizeBytes)],
    ['based on', snapshot.baseSnapshot ? snapshot.baseSnapshot.name : '-'],
    ['used by', dependents.join(', ') || '-'],
    ['created', formatTime(snapshot.createdAt)],
  ]);
}

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)}M`;
}

