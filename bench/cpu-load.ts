import { spawn } from 'node:child_process';

export interface CpuLoad {
  pid: number;
  stop(): void;
}

/**
 * A process that spins on one core, so boots are measured on a host that is
 * busy: the condition under which microvm's TSC calibration was seen to hang.
 */
export function startBusyLoop(): CpuLoad {
  const child = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  if (child.pid === undefined) throw new Error('could not start the busy loop');
  const pid = child.pid;
  let stopped = false;
  return {
    pid,
    stop() {
      if (stopped) return;
      stopped = true;
      child.kill('SIGKILL');
    },
  };
}
