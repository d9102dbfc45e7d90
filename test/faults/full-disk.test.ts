// A full disk under a real daemon: the state dir lives on a small ext4 filesystem that this test
// makes in a file, loop-mounts and fills. New work is refused up front with 507 insufficient-storage
// (free and needed bytes named), /healthz says degraded and why, stops and deletes still work with
// not one byte free (the daemon gives up its space reserve for them), an image build that meets
// ENOSPC half-way fails as insufficient-storage with nothing left behind and the daemon alive,
// once space is freed everything is as before, the reserve held again; and a running guest whose
// writes fill the host is shown paused (host_disk_full) and goes on by itself once there is room.
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, rmSync, statSync, statfsSync, writeSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { assertProblem, imagesDirEntries, MiB, pollUntil } from '../helpers/api.js';
import { waitForJob, type TestDaemon } from '../helpers/daemon.js';
import { execIn } from '../helpers/exec.js';
import { buildBusybox, createRunningVm, postVm, reapGuests, runVmJob, startVmDaemon, vmsDirEntries } from '../helpers/vms.js';

const minFree = 48 * MiB;
const reserve = 16 * MiB;
const spaceEnv = { BANGER_MIN_FREE_SPACE: '48M', BANGER_SPACE_RESERVE: '16M' };

/** A 640 MiB ext4 filesystem (no root-reserved blocks, so "full" means full) mounted for this test only. */
async function smallFilesystem(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'banger-full-disk-'));
  const file = join(dir, 'fs.ext4');
  const mountPoint = join(dir, 'mnt');
  mkdirSync(mountPoint);
  execFileSync('truncate', ['-s', '640M', file]);
  execFileSync('mkfs.ext4', ['-q', '-m', '0', '-E', 'lazy_itable_init=0,lazy_journal_init=0', file]);
  execFileSync('mount', ['-o', 'loop', file, mountPoint]);
  t.teardown(() => {
    // Lazy: a guest or daemon killed in another teardown may still hold a file open for a moment.
    execFileSync('umount', ['--lazy', mountPoint]);
    rmSync(dir, { recursive: true, force: true });
  });
  return mountPoint;
}

const freeBytes = (path: string) => {
  const info = statfsSync(path);
  return info.bavail * info.bsize;
};

/** Takes every free byte: one big allocation, then 4 KiB files until the last block is gone. */
function fillDisk(mountPoint: string): string {
  const dir = join(mountPoint, 'filler');
  mkdirSync(dir, { recursive: true });
  const big = freeBytes(mountPoint) - 2 * MiB;
  if (big > 0) execFileSync('fallocate', ['--length', String(big), join(dir, 'big')]);
  const block = Buffer.alloc(4096, 1);
  for (let i = 0; ; i++) {
    try {
      const fd = openSync(join(dir, `small-${i}`), 'w');
      try {
        writeSync(fd, block);
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
      throw error;
    }
  }
  return dir;
}

/** Leaves `bytes` free: what is above them is taken by one allocation. */
function fillDiskLeaving(mountPoint: string, bytes: number): string {
  const dir = join(mountPoint, 'filler');
  mkdirSync(dir, { recursive: true });
  execFileSync('fallocate', ['--length', String(freeBytes(mountPoint) - bytes), join(dir, 'big')]);
  return dir;
}

const mountPoint = await smallFilesystem();
const stateDir = join(mountPoint, 'state');
let daemon: TestDaemon = await startVmDaemon(t, { stateDir, env: spaceEnv });
// startVmDaemon reaps guests only for state dirs it makes itself.
reapGuests(t, stateDir);
const reservePath = join(stateDir, 'space-reserve');

async function health(t: Test): Promise<any> {
  const res = await daemon.http('GET', '/healthz');
  t.equal(res.status, 200, 'GET /healthz answers 200');
  return res.body;
}

t.test('with room: healthz ok, the reserve held as a private file of real blocks', async (t) => {
  const body = await health(t);
  t.match(body, { status: 'ok', reasons: [], storage: { path: stateDir, minFreeBytes: minFree, reserveBytes: reserve, reserveHeld: true } });
  t.ok(body.storage.freeBytes > 400 * MiB, `free: ${body.storage.freeBytes}`);
  const info = statSync(reservePath);
  t.equal(info.mode & 0o777, 0o600, 'the reserve is 0600');
  t.ok(info.blocks * 512 >= reserve, `the reserve takes its blocks (${info.blocks * 512} bytes)`);
});

t.test('a full disk: new work refused with 507, stops and deletes still work', async (t) => {
  await buildBusybox(daemon, 'bb');
  const image = (await daemon.http('GET', '/images/bb')).body;
  const registered = await daemon.http('POST', '/images', { name: 'reg', rootfsPath: image.rootfsPath, kernelPath: image.kernelPath, initrdPath: image.initrdPath, modulesDir: image.modulesDir });
  t.equal(registered.status, 201, registered.text);
  const { vm: running } = await createRunningVm(daemon, { name: 'runs', image: 'bb', memoryMiB: 256 });
  await runVmJob(daemon, 'POST', '/vms', { name: 'idle', image: 'bb', memoryMiB: 256, start: false });
  const vmDirsBefore = vmsDirEntries(stateDir);
  const imageDirsBefore = imagesDirEntries(stateDir);

  const filler = fillDisk(mountPoint);
  t.equal(freeBytes(mountPoint), 0, 'not one byte is free');

  const degraded = await health(t);
  t.equal(degraded.status, 'degraded');
  t.match(degraded.reasons, [{ code: 'low-free-space', message: /0 bytes free on the filesystem of .*below the 48 MiB kept free \(BANGER_MIN_FREE_SPACE\)/ }]);
  t.equal(degraded.storage.freeBytes, 0);

  const refusals: Array<[string, string, unknown, RegExp]> = [
    ['POST', '/vms', { name: 'new', image: 'bb', memoryMiB: 256 }, /a VM create needs 48 MiB free/],
    ['POST', '/vms/idle/start', undefined, /a VM start needs 48 MiB free/],
    ['POST', '/images/builds', { name: 'bb2', recipe: 'busybox' }, /an image build needs 304 MiB free \(256 MiB for it, plus the 48 MiB/],
    ['POST', '/images', { name: 'reg2', rootfsPath: image.rootfsPath, kernelPath: image.kernelPath }, /registering an image needs 48 MiB free/],
    ['POST', '/images/reg/promote', undefined, /a promotion needs/],
  ];
  for (const [method, path, body, detail] of refusals) {
    const res = await daemon.http(method, path, body);
    assertProblem(t, res, { status: 507, code: 'insufficient-storage', detail });
    t.equal(res.body.freeBytes, 0, `${method} ${path}: freeBytes`);
    t.ok(res.body.neededBytes >= minFree, `${method} ${path}: neededBytes ${res.body.neededBytes}`);
  }
  t.same((await daemon.http('GET', '/vms')).body.items.map((vm: any) => vm.name).sort(), ['idle', 'runs'], 'no VM row was added');
  t.same(vmsDirEntries(stateDir), vmDirsBefore, 'no VM dir was made');
  t.same(imagesDirEntries(stateDir), imageDirsBefore, 'no image dir was made');
  t.same((await daemon.http('GET', '/jobs?status=failed')).body.items, [], 'no job was recorded for refused work');

  const stopped = await runVmJob(daemon, 'POST', '/vms/runs/stop');
  t.equal(stopped.result.vm.state, 'stopped', 'the stop worked');
  t.notOk(existsSync(reservePath), 'the reserve was given up for it');
  await runVmJob(daemon, 'DELETE', '/vms/idle');
  await runVmJob(daemon, 'DELETE', `/vms/${running.id}`);
  const unregistered = await daemon.http('DELETE', '/images/reg');
  t.equal(unregistered.status, 200, `DELETE /images/reg: ${unregistered.text}`);
  t.same((await daemon.http('GET', '/vms')).body.items, [], 'both VMs are gone');
  t.same(vmsDirEntries(stateDir), [], 'with their dirs');

  const after = await health(t);
  t.ok(after.storage.freeBytes > 0, `the deletes freed space (${after.storage.freeBytes} bytes)`);

  rmSync(filler, { recursive: true, force: true });
  const recovered = await pollUntil('the reserve is made again', async () => {
    const body = await health(t);
    return body.storage.reserveHeld ? body : undefined;
  });
  t.match(recovered, { status: 'ok', reasons: [] }, 'with the space back, healthz is ok again');
  t.ok(statSync(reservePath).blocks * 512 >= reserve, 'the reserve holds its blocks again');
  const vm = await postVm(daemon, { name: 'again', image: 'bb', memoryMiB: 256, start: false });
  t.equal((await waitForJob(daemon, vm.body.id)).status, 'succeeded', 'new work is accepted again');
  await runVmJob(daemon, 'DELETE', '/vms/again');
});

t.test('ENOSPC half-way through a build: insufficient-storage, nothing left, the daemon up', async (t) => {
  // Without the threshold the build starts, and its own writes meet the full disk.
  await daemon.stop();
  daemon = await startVmDaemon(t, { stateDir, env: { ...spaceEnv, BANGER_MIN_FREE_SPACE: '0' } });
  const filler = fillDiskLeaving(mountPoint, reserve + 40 * MiB);
  t.teardown(() => rmSync(filler, { recursive: true, force: true }));
  const imageDirsBefore = imagesDirEntries(stateDir);

  const accepted = await daemon.http('POST', '/images/builds', { name: 'tight', recipe: 'busybox' });
  t.equal(accepted.status, 202, accepted.text);
  const job = await waitForJob(daemon, accepted.body.id, 10 * 60_000);
  t.equal(job.status, 'failed');
  t.match(job.error, { status: 507, code: 'insufficient-storage', detail: /is full .*No space left on device/, logPath: /\.log$/ });
  t.ok(Number.isInteger(job.error.freeBytes), 'the problem says what is free');
  t.equal((await daemon.http('GET', '/images/tight')).status, 404, 'no image was recorded');
  t.same(imagesDirEntries(stateDir), imageDirsBefore, 'no artifact or staging dir is left');
  t.same(readdirSync(join(stateDir, 'image-build')).filter((entry) => entry.endsWith('.work')), [], 'no work dir is left');
  t.equal(daemon.child.exitCode, null, 'the daemon is still running');
  t.equal((await daemon.http('GET', '/healthz')).status, 200);
  t.equal((await daemon.http('DELETE', '/images/bb')).status, 200, 'and still deletes');
});

t.test('a guest whose writes fill the host disk: paused with host_disk_full, and on again once there is room', async (t) => {
  // The last test's daemon went with its teardown.
  daemon = await startVmDaemon(t, { stateDir, env: spaceEnv });
  await buildBusybox(daemon, 'bb');
  await createRunningVm(daemon, { name: 'writer', image: 'bb', memoryMiB: 256 });
  const filler = fillDiskLeaving(mountPoint, 24 * MiB);
  t.teardown(() => rmSync(filler, { recursive: true, force: true }));
  const vmNow = async () => (await daemon.http('GET', '/vms/writer')).body;

  // 64 MiB through the guest's page cache, then fsync: the host has 24 MiB for the VM's disk to grow into.
  const writing = execIn(daemon, 'writer', { command: ['sh', '-c', 'dd if=/dev/zero of=/root/fill bs=1M count=64 conv=fsync 2>&1 && echo written'] });
  const paused = await pollUntil('the VM shown paused by the full disk', async () => {
    const vm = await vmNow();
    return vm.state === 'paused' ? vm : undefined;
  }, 180_000, 250).catch((error: Error) => {
    throw new Error(`${error.message}; ${freeBytes(mountPoint)} bytes free; the daemon's last lines:\n${daemon.output().split('\n').slice(-15).join('\n')}`);
  });
  t.match(paused.stateReason, { code: 'host_disk_full', message: /a write to its disk met a full host filesystem .*goes on by itself once 64 MiB are free again/ });
  t.ok(freeBytes(mountPoint) <= reserve, `the host filesystem is full but for the reserve given up to record it (${freeBytes(mountPoint)} bytes free)`);
  t.equal((await daemon.http('POST', '/vms', { name: 'more', image: 'bb', memoryMiB: 256 })).status, 507, 'new work is refused meanwhile');
  t.equal((await daemon.http('GET', '/healthz')).body.status, 'degraded');

  rmSync(filler, { recursive: true, force: true });
  const resumed = await pollUntil('the VM running again', async () => {
    const vm = await vmNow();
    return vm.state === 'running' ? vm : undefined;
  }, 60_000, 250);
  t.equal(resumed.stateReason, null, 'running, no reason left');
  const written = await writing;
  t.equal(written.exit?.exitCode, 0, `the write went on where it stopped: ${written.stdout.toString()}`);
  t.match(written.stdout.toString(), /written\n$/);
  await runVmJob(daemon, 'DELETE', '/vms/writer');
});
