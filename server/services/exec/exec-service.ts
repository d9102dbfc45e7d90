import { BangerError, validationError } from '../errors.js';
import type { VmService } from '../vms/vm-service.js';
import { execSpecErrors, type ExecSpec } from './exec-command.js';
import { GuestExec } from './guest-exec.js';
import { prepareCommand, type GuestShells } from './guest-shells.js';

export interface ExecRequest extends ExecSpec {
  /** Standard input as text; closed after it. */
  stdin?: string;
  /** Standard input as base64, for bytes that are not text. */
  stdinBase64?: string;
  /** Standard input comes from a later pipeStdin call (PUT …/execs/{execId}/stdin). */
  stdinStream?: boolean;
  /** Kill the program (its whole process group) after this long. */
  timeoutSeconds?: number;
}

/** Programs run in running guests over their shell channel. Knows nothing of HTTP. */
export class ExecService {
  /** Execs started with stdinStream whose stdin has not come yet, by exec id. */
  private readonly awaitingStdin = new Map<string, { vmId: string; exec: GuestExec }>();

  constructor(
    private readonly vms: VmService,
    private readonly shells: GuestShells,
  ) {}

  /** Checks the request, then starts the program; the returned stream carries its output and exit. */
  async exec(idOrName: string, request: ExecRequest): Promise<GuestExec> {
    const errors = execSpecErrors(request);
    const stdinSources = [request.stdin, request.stdinBase64, request.stdinStream ? true : undefined].filter((source) => source !== undefined);
    if (stdinSources.length > 1) errors.push({ field: 'body.stdinStream', message: 'give one of stdin, stdinBase64 and stdinStream' });
    if (request.stdinBase64 !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(request.stdinBase64)) {
      errors.push({ field: 'body.stdinBase64', message: 'must be base64' });
    }
    if (errors.length > 0) throw validationError('The exec request is not valid', errors);
    const { vm, process, driver } = this.vms.runningVm(idOrName, 'used for exec');
    const shell = await this.shells.connection(vm.id, vm.name, driver, process);
    const command = prepareCommand(shell, vm.name, request);
    const { execId } = command;
    const stdin = request.stdinStream
      ? 'stream'
      : request.stdinBase64 !== undefined
        ? Buffer.from(request.stdinBase64, 'base64')
        : request.stdin !== undefined
          ? Buffer.from(request.stdin)
          : undefined;
    const exec = await GuestExec.start(shell.client, {
      execId,
      commandLine: command.commandLine,
      onEnded: (_execId, killed) => {
        command.finish(killed ? 'killed' : 'ended');
        this.awaitingStdin.delete(execId);
      },
      stdin,
      timeoutMs: request.timeoutSeconds === undefined ? undefined : request.timeoutSeconds * 1000,
    }).catch((error: unknown) => {
      command.finish('not-run');
      throw new BangerError('guest-unreachable', `VM ${vm.name}: the guest's SSH server did not start the command: ${error instanceof Error ? error.message : String(error)}`, {
        hint: 'retry; if it persists, restart the VM',
        cause: error,
      });
    });
    if (stdin === 'stream') this.awaitingStdin.set(execId, { vmId: vm.id, exec });
    return exec;
  }

  /**
   * Streams source into the standard input of an exec started with stdinStream, then closes it;
   * resolves with the bytes sent. A source that breaks off kills the program.
   */
  async pipeStdin(idOrName: string, execId: string, source: NodeJS.ReadableStream): Promise<number> {
    const vm = this.vms.get(idOrName);
    const entry = this.awaitingStdin.get(execId);
    if (!entry || entry.vmId !== vm.id) {
      throw new BangerError('exec-not-found', `VM ${vm.name} runs no exec ${execId} that waits for stdin`, {
        hint: 'start the exec with "stdinStream": true and use the execId of its started event while it runs',
      });
    }
    if (!entry.exec.awaitsStdin) {
      throw new BangerError('exec-stdin-unavailable', `Exec ${execId} already has its stdin`, { hint: 'stdin is sent once, in one request' });
    }
    this.awaitingStdin.delete(execId);
    return await entry.exec.pipeStdin(source);
  }

  shutdown(): void {
    this.shells.closeAll();
  }
}
