import type { HypervisorDriver, VmProcess } from '../../hypervisor/driver.js';
import { GuestShellError, openGuestShell, type GuestShell } from '../../guest/guest-shell.js';
import { BangerError, validationError } from '../errors.js';
import { newId } from '../ids.js';
import { commandLineErrors, execCommandLine, MAX_CONCURRENT_EXECS, type ExecSpec } from './exec-command.js';

/**
 * One SSH connection per running VM, opened on first use and shared by every exec and file
 * call on that VM (SSH multiplexes them as channels). A virtio-serial port takes one host at a
 * time, so a second connection could never be opened beside the first anyway.
 */

interface Entry {
  /** pid and start time: a restarted VM's process is another machine to talk to. */
  identity: string;
  connection: Promise<GuestShell>;
}

export interface GuestShellsOptions {
  privateKey: () => Promise<Buffer>;
  connectTimeoutMs: number;
}

export class GuestShells {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly options: GuestShellsOptions) {}

  /** The VM's connection, opened if needed. Throws BangerError: guest-shell-unavailable or guest-unreachable. */
  async connection(vmId: string, vmName: string, driver: HypervisorDriver, vm: VmProcess): Promise<GuestShell> {
    const identity = `${vm.pid}:${vm.startTime}`;
    const known = this.entries.get(vmId);
    if (known && known.identity === identity) return known.connection;
    if (known) this.close(vmId);

    const shell = driver.shellTransport(vm);
    if (shell === null) {
      throw new BangerError('guest-shell-unavailable', `VM ${vmName} was started without the guest shell port that exec and file transfer go through`, {
        hint: `its hypervisor process predates this banger, or it was restored from an older snapshot: restart the VM (POST /vms/${vmId}/restart), or warm its image again`,
      });
    }
    // No caller's signal: the connection is everyone's, and its own timeout bounds it.
    const connection = this.options.privateKey().then((privateKey) =>
      openGuestShell({ shell, agent: driver.agentTransport(vm), privateKey, timeoutMs: this.options.connectTimeoutMs }),
    );
    const entry: Entry = { identity, connection };
    this.entries.set(vmId, entry);
    try {
      const shell = await connection;
      const { client } = shell;
      const forget = (): void => {
        if (this.entries.get(vmId) === entry) this.entries.delete(vmId);
      };
      client.once('close', forget);
      // on, not once: a connection can report more than one error, and an unheard one ends the daemon.
      client.on('error', forget);
      return shell;
    } catch (error) {
      if (this.entries.get(vmId) === entry) this.entries.delete(vmId);
      if (error instanceof GuestShellError) {
        throw new BangerError('guest-unreachable', `VM ${vmName}: ${error.message}`, {
          hint: 'the guest may still be booting, or its image predates exec support (agent version 3): rebuild the image',
          cause: error,
        });
      }
      throw error;
    }
  }

  /** Ends the VM's connection, e.g. when it stops; open channels end with it. */
  close(vmId: string): void {
    const entry = this.entries.get(vmId);
    if (!entry) return;
    this.entries.delete(vmId);
    entry.connection.then(({ client }) => client.end(), () => {});
  }

  closeAll(): void {
    for (const vmId of [...this.entries.keys()]) this.close(vmId);
  }
}

// Bounds one command line's cleanup; older files stay in the guest's /run (a few bytes each).
const MAX_ENDED = 16;

export type CommandOutcome = 'ended' | 'killed' | 'not-run';

/** A command about to start on a connection, holding one of its channels until finish(). */
export interface PreparedCommand {
  execId: string;
  commandLine: string;
  /**
   * Releases the channel. 'ended': the line ran and its group file is left for a later line to
   * remove; 'killed': the line ran and the kill removes its file itself (a later line's cleanup
   * must not race the kill's read of it); 'not-run': nothing ran, nothing was removed.
   */
  finish(outcome: CommandOutcome): void;
}

/**
 * Claims one of the connection's channels for a command (an exec, a tar) and writes its command
 * line. Throws 422 for a line the guest's server would not take, and 429 past the commands it
 * runs at once, instead of the server's own refusal.
 */
export function prepareCommand(shell: GuestShell, vmName: string, spec: ExecSpec): PreparedCommand {
  const execId = newId();
  const ended = shell.endedCommands.slice(-MAX_ENDED);
  const commandLine = execCommandLine(spec, { execId, ended, server: shell.server });
  const tooLong = commandLineErrors(commandLine, shell.server);
  if (tooLong.length > 0) throw validationError('The command is not valid', tooLong);
  const limit = MAX_CONCURRENT_EXECS[shell.server];
  if (shell.channelsInUse >= limit) {
    throw new BangerError('guest-exec-limit', `VM ${vmName} already runs ${shell.channelsInUse} commands, as many as its SSH server (${shell.server}) takes at once`, {
      hint: 'retry when one has ended',
    });
  }
  shell.channelsInUse += 1;
  shell.endedCommands = [];
  let finished = false;
  return {
    execId,
    commandLine,
    finish: (outcome) => {
      if (finished) return;
      finished = true;
      shell.channelsInUse -= 1;
      // A line that never ran removed nothing: its files are still to go.
      const toRemove = outcome === 'ended' ? [execId] : outcome === 'not-run' ? ended : [];
      shell.endedCommands = [...shell.endedCommands, ...toRemove].slice(-MAX_ENDED);
    },
  };
}
