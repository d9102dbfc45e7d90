import { join } from 'node:path';
import { stateLayout } from '../server/config.js';
import { openDatabase } from '../server/db/database.js';
import { ImageRepository } from '../server/db/repositories/images.js';
import { JobRepository } from '../server/db/repositories/jobs.js';
import { SnapshotRepository } from '../server/db/repositories/snapshots.js';
import { VmRepository } from '../server/db/repositories/vms.js';
import { vmCreateJob } from '../server/services/vms/vm-jobs.js';

const pad = (n: number) => String(n).padStart(2, '0');
const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();

/**
 * N rows of each kind in a state dir's database, through the server's repositories, with the daemon
 * stopped: N images (each declaring a service), N VMs (stopped, two published ports each, on the
 * first four images), N snapshots (one of each VM) and N finished create jobs. Returns the id of the
 * first VM.
 */
export function insertListRows(stateDir: string, n: number): string | undefined {
  const database = openDatabase(stateLayout(stateDir).database);
  try {
    const images = new ImageRepository(database.db);
    const vms = new VmRepository(database.db);
    const snapshots = new SnapshotRepository(database.db);
    const jobs = new JobRepository(database.db);
    const imageIds: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = `bench-image-id-${pad(i)}`;
      imageIds.push(id);
      const dir = join(stateDir, 'images', id);
      images.upsert({
        id,
        name: `bench-image-${pad(i)}`,
        managed: true,
        artifactDir: dir,
        rootfsPath: join(dir, 'rootfs.ext4'),
        workSeedPath: join(dir, 'work-seed.ext4'),
        kernelPath: join(dir, 'vmlinuz'),
        initrdPath: join(dir, 'initrd.img'),
        modulesDir: null,
        packagesPath: null,
        packagesSha256: null,
        buildSize: '2G',
        seededSshPublicKeyFingerprint: 'SHA256:bench',
        docker: false,
        services: [{ name: 'web', command: 'httpd -f -p 8080', port: 8080, user: null }],
        warmSnapshotId: null,
        createdAt: at(i),
        updatedAt: at(i),
      });
    }
    const vmIds: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = `bench-vm-id-${pad(i)}`;
      vmIds.push(id);
      const vmDir = join(stateDir, 'vms', id);
      vms.insert({
        id,
        name: `bench-vm-${pad(i)}`,
        imageId: imageIds[i % Math.min(n, 4)] as string,
        state: 'stopped',
        stateReason: null,
        stateMessage: null,
        stateChangedAt: at(i),
        cpus: 1,
        memoryMib: 512,
        workDiskBytes: 2 * 1024 ** 3,
        hypervisor: 'qemu',
        accel: 'tcg',
        vmDir,
        process: null,
        consoleLog: join(vmDir, 'console.log'),
        disks: { rootDisk: join(vmDir, 'root.qcow2'), workDisk: join(vmDir, 'work.ext4') },
        memoryFile: null,
        baseSnapshotId: null,
        bootMode: 'cold',
        labels: { bench: 'list', n: String(i) },
        ttlSeconds: null,
        expiresAt: null,
        timings: { validate: 1, clone_disks: 40, boot: 4000 },
        bootedAt: at(i),
        createdAt: at(i),
        updatedAt: at(i),
      });
      vms.reservePort({ vmId: id, guestPort: 22, hostPort: 40000 + 2 * i, wait: false });
      vms.reservePort({ vmId: id, guestPort: 8080, hostPort: 40001 + 2 * i, wait: true });
    }
    for (let i = 0; i < n; i++) {
      const dir = join(stateDir, 'snapshots', `bench-snapshot-id-${pad(i)}`);
      snapshots.insert({
        id: `bench-snapshot-id-${pad(i)}`,
        name: `bench-snapshot-${pad(i)}`,
        sourceVmId: vmIds[i] as string,
        sourceVmName: `bench-vm-${pad(i)}`,
        imageId: imageIds[i % Math.min(n, 4)] as string,
        baseSnapshotId: null,
        purpose: 'user',
        state: 'ready',
        stateMessage: null,
        dir,
        artifacts: {
          stateFile: join(dir, 'state'),
          memoryFile: null,
          rootLayer: join(dir, 'root.qcow2'),
          workLayer: join(dir, 'work.qcow2'),
          compatibility: { hypervisor: 'qemu', binaryVersion: 'QEMU emulator version 7.2.19', machine: 'pc-q35-7.2', cpus: 1, memoryMiB: 512, guestShell: true },
          sizeBytes: 100 * 1024 ** 2,
        },
        cpus: 1,
        memoryMib: 512,
        workDiskBytes: 2 * 1024 ** 3,
        sizeBytes: 100 * 1024 ** 2,
        createdAt: at(i),
      });
    }
    for (let i = 0; i < n; i++) {
      const id = `bench-job-id-${pad(i)}`;
      const stages = vmCreateJob.stages.map((name) => ({ name, status: 'succeeded' as const, startedAt: at(i), finishedAt: at(i) }));
      jobs.insert(
        {
          id,
          kind: vmCreateJob.name,
          status: 'running',
          selectionType: null,
          selectionName: null,
          selectionQuery: null,
          stages,
          progress: 100,
          result: { vm: { id: vmIds[i], href: `/vms/${vmIds[i]}` } },
          error: null,
          logPath: null,
          cancellable: true,
          processes: [],
          scratchPaths: [],
          createdAt: at(i),
          startedAt: at(i),
          finishedAt: null,
        },
        [{ type: 'vm', targetId: vmIds[i] as string, name: `bench-vm-${pad(i)}` }],
      );
      jobs.finish(id, { status: 'succeeded', finishedAt: at(i) });
    }
    return vmIds[0];
  } finally {
    database.close();
  }
}
