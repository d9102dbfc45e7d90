import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import type { VmRow } from '../../db/repositories/vms.js';
import { removeTree } from '../../host/remove-tree.js';
import type { StopOutcome } from '../../hypervisor/driver.js';
import type { StageOf } from '../jobs/job-kind.js';
import type { StageRecorder } from '../jobs/types.js';
import type { vmDeleteJob } from './vm-jobs.js';
import type { VmDeps, VmRecords } from './vm-records.js';

/** Taking a VM apart: its hypervisor process, its files and its port reservations. */
export class VmTeardown {
  constructor(
    private readonly deps: VmDeps,
    private readonly records: VmRecords,
  ) {}

  /** Stops the recorded hypervisor; has the driver kill it when a stop fails. */
  async stopProcess(id: string, graceMs: number): Promise<StopOutcome> {
    const vm = this.records.require(id);
    if (!vm.process) return 'already-gone';
    const driver = this.records.driverOf(vm);
    try {
      return await driver.stop(vm.process, { graceMs });
    } catch (error) {
      this.deps.logger.warn({ err: error, vmId: id }, 'driver stop failed; killing the process');
      await driver.kill(vm.process);
      return 'killed';
    }
  }

  /** The recorded process and any unrecorded one still using the VM dir (a launch cut short by a crash). */
  async stopEverything(vm: VmRow): Promise<void> {
    if (vm.process) await this.stopProcess(vm.id, 0);
    await this.records.driverOf(vm).killStrays(this.records.vmDir(vm));
  }

  /** Process, files and ports of a VM; the row stays. */
  async teardown(vm: VmRow, options: { preserveConsole: boolean }): Promise<void> {
    await this.stopEverything(vm);
    const vmDir = this.records.vmDir(vm);
    if (options.preserveConsole) {
      const consoleLog = vm.process?.consoleLog ?? vm.consoleLog;
      if (consoleLog && consoleLog.startsWith(`${vmDir}/`) && existsSync(consoleLog)) {
        await rename(consoleLog, this.records.preservedConsolePath(vm.id)).catch(() => undefined);
      }
    }
    await removeTree(vmDir);
    this.deps.vms.releasePorts(vm.id);
  }

  /** Everything of a VM, its row last; reports the delete stages when a job context is given. */
  async destroy(id: string, context?: StageRecorder<StageOf<typeof vmDeleteJob>>): Promise<void> {
    const vm = this.deps.vms.get(id);
    if (!vm) return;
    context?.stage('stop_hypervisor', vm.process ? `pid ${vm.process.pid}` : 'no process');
    await this.stopEverything(vm);
    const vmDir = this.records.vmDir(vm);
    context?.stage('remove_files', vmDir);
    await removeTree(vmDir);
    await rm(this.records.preservedConsolePath(id), { force: true });
    context?.stage('release_network', this.deps.vms.portsOf(id).map((port) => String(port.hostPort)).join(', ') || 'no ports');
    this.deps.vms.releasePorts(id);
    context?.stage('deleted');
    this.deps.vms.delete(id);
  }
}
