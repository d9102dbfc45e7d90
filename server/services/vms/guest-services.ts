import { queryAgent, type GuestServiceStatus } from '../../guest/agent-protocol.js';
import type { HypervisorDriver, VmProcess } from '../../hypervisor/driver.js';

/** What the guest agent says of an image's services (docs/guest-agent.md, "Services"). */

export type { GuestServiceStatus };

export async function queryGuestServices(
  driver: Pick<HypervisorDriver, 'agentTransport'>,
  process: VmProcess,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<GuestServiceStatus[]> {
  const reply = await queryAgent(driver.agentTransport(process), { command: 'services', timeoutMs: options.timeoutMs, resendMs: 500, signal: options.signal });
  return reply.services;
}

/** Whether a service does its job: its program runs and, when it has a port, listens there. */
export function serviceUp(status: GuestServiceStatus): boolean {
  return status.state === 'running' && status.listening !== false;
}

/** One sentence per exited service, each followed by the end of its log: the VM's state reason. */
export function exitedServicesMessage(exited: GuestServiceStatus[]): string {
  return exited
    .map((status) => {
      const how = status.exitStatus === null ? 'was killed (no exit status)' : `exited with status ${status.exitStatus}`;
      const tail = (status.logTail ?? '').trimEnd();
      const log = tail === '' ? `its log /var/log/banger/${status.name}.log is empty` : `the end of /var/log/banger/${status.name}.log:\n${tail}`;
      return `service ${status.name} ${how}; ${log}`;
    })
    .join('\n');
}
