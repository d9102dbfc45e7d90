import type { HypervisorDriver, HypervisorName } from './driver.js';

export class HypervisorUnavailableError extends Error {
  constructor(readonly hypervisor: string, readonly available: HypervisorName[]) {
    super(`hypervisor ${hypervisor} is not available on this daemon (available: ${available.join(', ') || 'none'})`);
    this.name = 'HypervisorUnavailableError';
  }
}

/**
 * The drivers this daemon has. New VMs get the default one; every other operation uses
 * the driver recorded on the VM, so a daemon with several backends manages each VM with
 * the one that started it.
 */
export class HypervisorRegistry {
  private readonly drivers = new Map<HypervisorName, HypervisorDriver>();

  constructor(
    drivers: HypervisorDriver[],
    private readonly defaultName: HypervisorName = drivers[0]?.name ?? 'qemu',
  ) {
    for (const driver of drivers) this.drivers.set(driver.name, driver);
    if (!this.drivers.has(defaultName)) throw new HypervisorUnavailableError(defaultName, [...this.drivers.keys()]);
  }

  get default(): HypervisorDriver {
    return this.get(this.defaultName);
  }

  /** Throws HypervisorUnavailableError for a name this daemon has no driver for. */
  get(name: HypervisorName): HypervisorDriver {
    const driver = this.drivers.get(name);
    if (!driver) throw new HypervisorUnavailableError(name, [...this.drivers.keys()]);
    return driver;
  }

  all(): HypervisorDriver[] {
    return [...this.drivers.values()];
  }
}
