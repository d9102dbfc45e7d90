import { stat } from 'node:fs/promises';
import { AgentError, queryAgent, type AgentHealth } from '../guest/agent-protocol.js';
import { BootFailureError, classifyBootFailure, type BootEvidence } from './boot-failure.js';
import type { HypervisorDriver, VmProcess } from './driver.js';
import { readLogTail } from './log-tail.js';

export interface WaitForAgentOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called once, when the console log first has content: the kernel is running. */
  onConsoleOutput?: () => void;
}

const WATCH_MS = 250;

/** What the VM left behind, for classifyBootFailure and for the user. */
export async function collectBootEvidence(driver: Pick<HypervisorDriver, 'isRunning'>, vm: VmProcess): Promise<BootEvidence> {
  const exited = !driver.isRunning(vm);
  const [consoleTail, stderrTail] = await Promise.all([readLogTail(vm.consoleLog), readLogTail(vm.stderrLog, 4096)]);
  return { consoleTail, exited, stderrTail };
}

/**
 * Waits for the guest agent's health answer while watching the hypervisor and the
 * console, so an exited hypervisor or a kernel panic ends the wait at once rather
 * than after timeoutMs. Throws BootFailureError with the evidence on failure; a
 * cancellation through signal is rethrown as the agent query's abort error.
 */
export async function waitForGuestAgent(
  driver: Pick<HypervisorDriver, 'isRunning' | 'agentTransport'>,
  vm: VmProcess,
  options: WaitForAgentOptions,
): Promise<AgentHealth> {
  const started = Date.now();
  const stopQuery = new AbortController();
  const onAbort = (): void => stopQuery.abort(options.signal?.reason);
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });

  let consoleSeen = false;
  let consoleSize = 0;
  let watching = true;
  let wake: (() => void) | undefined;
  const pause = (): Promise<void> =>
    new Promise((resolve) => {
      if (!watching) {
        resolve();
        return;
      }
      const timer = setTimeout(resolve, WATCH_MS);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  const watch = async (): Promise<void> => {
    while (watching) {
      if (!driver.isRunning(vm)) {
        stopQuery.abort();
        return;
      }
      const size = await stat(vm.consoleLog).then((info) => info.size, () => 0);
      if (size > 0 && !consoleSeen) {
        consoleSeen = true;
        try {
          options.onConsoleOutput?.();
        } catch {
          // A progress callback must not decide the boot's outcome.
        }
      }
      if (size !== consoleSize) {
        consoleSize = size;
        // The kernel reboots right after a panic, but not every hypervisor or
        // command line turns that into an exit.
        if (classifyBootFailure({ consoleTail: await readLogTail(vm.consoleLog), exited: false, stderrTail: '' }) === 'kernel_panic') {
          stopQuery.abort();
          return;
        }
      }
      await pause();
    }
  };
  // Unreadable logs only cost the early exit; the agent wait still ends by its timeout.
  const watcher = watch().catch(() => {});

  try {
    return await queryAgent(driver.agentTransport(vm), { command: 'health', timeoutMs: options.timeoutMs, signal: stopQuery.signal });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    // The agent answered, just not with health: that is not a boot failure.
    if (error instanceof AgentError && error.code === 'refused') throw error;
    const evidence = await collectBootEvidence(driver, vm);
    throw new BootFailureError(classifyBootFailure(evidence), evidence, Date.now() - started);
  } finally {
    watching = false;
    wake?.();
    options.signal?.removeEventListener('abort', onAbort);
    await watcher;
  }
}
