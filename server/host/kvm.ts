import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';

/**
 * Whether hardware virtualisation through /dev/kvm is usable here. An openable
 * /dev/kvm is not enough: a host that is itself a guest may offer KVM through a
 * paravirtual module (kvm_pvm) that only runs specially built guest kernels, so a
 * hardware module must be loaded too.
 */
export async function kvmUsable(): Promise<boolean> {
  try {
    await access('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return false;
  }
  const modules = await readFile('/proc/modules', 'utf8').catch(() => '');
  const loaded = new Set(modules.split('\n').map((line) => line.split(' ')[0]));
  if (loaded.has('kvm_intel') || loaded.has('kvm_amd')) return true;
  // Built into the kernel, the hardware modules still show up under /sys/module.
  for (const name of ['kvm_intel', 'kvm_amd']) {
    try {
      await access(`/sys/module/${name}`);
      return true;
    } catch {
      // not this one
    }
  }
  return false;
}
