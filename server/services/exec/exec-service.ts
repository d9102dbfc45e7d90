import type ssh2 from 'ssh2';
import { BangerError } from '../errors.js';
import { newId } from '../ids.js';
import type { VmService } from '../vms/vm-service.js';
import { validationError } from '../images/build/build-request.js';
import { commandLineErrors, execCommandLine, execSpecErrors, killCommandLine, MAX_CONCURRENT_EXECS, type ExecSpec } from './exec-command.js';
import { GuestExec } from './guest-exec.js';
import type { GuestShells } from './guest-shells.js';

// Bounds one command line's cleanup; older files stay in the guest's /run (a few bytes each).
const MAX_ENDED = 16;

export interface ExecRequest extends ExecSpec {
  /** Standard input as text; closed after it. */
  stdin?: string;
  /** Standard input as base64, for bytes that are not text. */
  stdinBase64?: string;
  /** Kill the program (its whole process group) after this long. */
  timeoutSeconds?: number;
}

/** Programs run in running guests over their shell channel. Knows nothing of HTTP. */
export class ExecService {
  /** Per connection, execs that ended since the last one started: their group files go with the next command. */
  private readonly ended = new WeakMap<ssh2.Client, string[]>();
  /** Per connection, execs started and not yet ended. */
  private readonly running = new WeakMap<ssh2.Client, number>();

  constructor(
    private readonly vms: VmService,
    private readonly shells: GuestShells,
  ) {}

  /** Checks the request, then starts the program; the returned stream carries its output and exit. */
  async exec(idOrName: string, request: ExecRequest): Promise<GuestExec> {
    const errors = execSpecErrors(request);
    if (request.stdin !== undefined && request.stdinBase64 !== undefined) {
      errors.push({ field: 'body.stdinBase64', message: 'give stdin or stdinBase64, not both' });
    }
    if (request.stdinBase64 !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(request.stdinBase64)) {
      errors.push({ field: 'body.stdinBase64', message: 'must be base64' });
    }
    if (errors.length > 0) throw validationError('The exec request is not valid', errors);
    const { vm, process, driver } = this.vms.runningVm(idOrName, 'used for exec');
    const { client, server } = await this.shells.connection(vm.id, vm.name, driver, process);
    const execId = newId();
    const ended = this.ended.get(client) ?? [];
    const commandLine = execCommandLine(request, { execId, ended, server });
    const tooLong = commandLineErrors(commandLine, server);
    if (tooLong.length > 0) throw validationError('The exec request is not valid', tooLong);
    const running = this.running.get(client) ?? 0;
    if (running >= MAX_CONCURRENT_EXECS[server]) {
      throw new BangerError('guest-exec-limit', `VM ${vm.name} already runs ${running} commands, as many as its SSH server (${server}) takes at once`, {
        hint: 'retry when one has ended',
      });
    }
    this.running.set(client, running + 1);
    const release = (): void => {
      this.running.set(client, (this.running.get(client) ?? 1) - 1);
    };
    this.ended.delete(client);
    const stdin = request.stdinBase64 !== undefined ? Buffer.from(request.stdinBase64, 'base64') : request.stdin !== undefined ? Buffer.from(request.stdin) : undefined;
    return await GuestExec.start(client, {
      execId,
      commandLine,
      killCommandLine: killCommandLine(execId),
      onEnded: (id) => {
        release();
        this.ended.set(client, [...(this.ended.get(client) ?? []), id].slice(-MAX_ENDED));
      },
      stdin,
      timeoutMs: request.timeoutSeconds === undefined ? undefined : request.timeoutSeconds * 1000,
    }).catch((error: unknown) => {
      release();
      // The command line that would have removed these never ran.
      this.ended.set(client, [...ended, ...(this.ended.get(client) ?? [])].slice(-MAX_ENDED));
      throw new BangerError('guest-unreachable', `VM ${vm.name}: the guest's SSH server did not start the command: ${error instanceof Error ? error.message : String(error)}`, {
        hint: 'retry; if it persists, restart the VM',
        cause: error,
      });
    });
  }

  shutdown(): void {
    this.shells.closeAll();
  }
}
