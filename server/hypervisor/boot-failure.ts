/**
 * Why a guest did not come up, decided from what it left behind, so a failed
 * create reports a class a user can act on instead of a bare timeout.
 */

/** port_timeout and service_exited are decided by the VM service (it probes the published ports, asks the agent); the rest here. */
export type BootFailureKind = 'kernel_panic' | 'hypervisor_exited' | 'agent_timeout' | 'port_timeout' | 'service_exited';

export interface BootEvidence {
  /** The end of the serial console log. */
  consoleTail: string;
  /** Whether the hypervisor process had exited when the wait ended. */
  exited: boolean;
  /** The end of the hypervisor's own output. */
  stderrTail: string;
}

const PANIC = /Kernel panic - not syncing[^\r\n]*/;
// The banger initrd's failure path: it prints this and powers off.
const INITRD_ERROR = /banger-initrd: ERROR:[^\r\n]*/;

/**
 * A panic wins over an exit because the kernel panicking is why QEMU exited
 * (panic=-1 with -no-reboot turns the panic into a reboot, the reboot into an exit).
 */
export function classifyBootFailure(evidence: BootEvidence): Exclude<BootFailureKind, 'port_timeout' | 'service_exited'> {
  if (PANIC.test(evidence.consoleTail)) return 'kernel_panic';
  if (evidence.exited) return 'hypervisor_exited';
  return 'agent_timeout';
}

function lastNonEmptyLine(text: string): string | undefined {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .at(-1);
}

/** One line for an API error: the evidence line that best says what went wrong. */
export function describeBootFailure(kind: BootFailureKind, evidence: BootEvidence, waitedMs?: number): string {
  switch (kind) {
    case 'kernel_panic':
      return `the guest kernel panicked: ${PANIC.exec(evidence.consoleTail)?.[0] ?? 'Kernel panic'}`;
    case 'hypervisor_exited': {
      const initrd = INITRD_ERROR.exec(evidence.consoleTail)?.[0];
      if (initrd !== undefined) return `the guest powered off during early boot: ${initrd}`;
      const stderr = lastNonEmptyLine(evidence.stderrTail);
      return stderr === undefined ? 'the hypervisor exited before the guest agent answered' : `the hypervisor exited: ${stderr}`;
    }
    case 'agent_timeout': {
      const within = waitedMs === undefined ? '' : ` within ${Math.round(waitedMs / 1000)} s`;
      const quiet = evidence.consoleTail.trim() === '' ? '; the guest wrote nothing to its console' : '';
      return `the guest agent did not answer${within}${quiet}`;
    }
    case 'port_timeout':
      return 'a published guest port did not accept connections in time';
    case 'service_exited':
      return "a service of the image exited before its port accepted connections";
  }
}

export class BootFailureError extends Error {
  constructor(
    readonly kind: BootFailureKind,
    readonly evidence: BootEvidence,
    waitedMs?: number,
  ) {
    super(describeBootFailure(kind, evidence, waitedMs));
    this.name = 'BootFailureError';
  }
}
