// Restart safety of snapshots with real guests: kill -9 of the daemon while a snapshot is being
// taken (the job ends interrupted; the VM either went on above the frozen layers or got its files
// back, and boots either way; no half snapshot is offered for restore) and while a VM is being
// restored (failed/interrupted, no process, no dir). Snapshots and their clones survive restarts.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { isAlive, pollUntil } from '../helpers/api.js';
import { waitForJob } from '../helpers/daemon.js';
import { buildBusybox, createRunningVm, guestState, postVm, processesOfVm, runVmJob, startVmDaemon, vmsDirEntries } from '../helpers/vms.js';

let daemon = await startVmDaemon(t, { env: { BANGER_MAX_VMS: '4' } });
const stateDir = daemon.stateDir;
await buildBusybox(daemon, 'bb');
const restart = async () => {
  daemon = await startVmDaemon(t, { stateDir, env: { BANGER_MAX_VMS: '4' } });
  return daemon;
};

/** Polls a job until it reaches stage `stage` (running or done); fails if it ended first. */
async function untilStage(jobId: string, stage: string): Promise<void> {
  await pollUntil(`job ${jobId} to reach ${stage}`, async () => {
    const job = (await daemon.http('GET', `/jobs/${jobId}`)).body;
    if (job.status !== 'running' && job.status !== 'queued') throw new Error(`the job ended (${job.status}) before the daemon was killed: ${JSON.stringify(job.error)}`);
    return job.stages.find((s: any) => s.name === stage && s.status !== 'pending') ? job : undefined;
  }, 120_000, 10);
}

t.test('kill -9 during a snapshot: interrupted, and the VM boots from consistent disks', async (t) => {
  const { vm } = await createRunningVm(daemon, { name: 'src', image: 'bb', ports: [8080], memoryMiB: 512 });
  await guestState(vm, 'kept');
  const accepted = await daemon.http('POST', '/vms/src/snapshots', { name: 'cut' });
  t.equal(accepted.status, 202, accepted.text);
  await untilStage(accepted.body.id, 'save_state');
  await daemon.crash();
  await restart();

  const job = (await daemon.http('GET', `/jobs/${accepted.body.id}`)).body;
  t.match(job, { status: 'failed', error: { code: 'interrupted' } });
  const snapshots = (await daemon.http('GET', '/snapshots')).body.items;
  t.ok(snapshots.every((snapshot: any) => snapshot.state !== 'ready' && snapshot.state !== 'creating'), `no half snapshot is offered: ${JSON.stringify(snapshots.map((s: any) => s.state))}`);
  assertNoRestoreFrom(t, await daemon.http('POST', '/vms', { snapshot: 'cut', name: 'never' }));

  const after = (await daemon.http('GET', '/vms/src')).body;
  t.comment(`after the crash: VM ${after.state} (${after.stateReason?.code ?? '-'}), snapshot ${snapshots.map((s: any) => s.state).join(',') || 'gone'}`);
  if (after.state === 'stopped') await runVmJob(daemon, 'POST', '/vms/src/start');
  const running = (await daemon.http('GET', '/vms/src')).body;
  t.equal(running.state, 'running');
  t.equal((await guestState(running)).note_disk, 'kept', 'the work disk kept what was written before the snapshot');

  await runVmJob(daemon, 'DELETE', '/vms/src');
  for (const snapshot of (await daemon.http('GET', '/snapshots')).body.items) t.equal((await daemon.http('DELETE', `/snapshots/${snapshot.id}`)).status, 200);
  t.same(readdirSync(join(stateDir, 'snapshots')), [], 'no snapshot files left');
});

t.test('kill -9 during a restore: failed/interrupted, nothing running; the snapshot survives', async (t) => {
  await createRunningVm(daemon, { name: 'base', image: 'bb', ports: [8080], memoryMiB: 256 });
  await runVmJob(daemon, 'POST', '/vms/base/snapshots', { name: 'good' });
  const accepted = await postVm(daemon, { name: 'half', snapshot: 'good', ports: [8080] });
  const vmId = accepted.body.target.id;
  await untilStage(accepted.body.id, 'restore_state');
  await daemon.crash();
  await restart();

  const job = await waitForJob(daemon, accepted.body.id, 30_000);
  t.match(job, { status: 'failed', error: { code: 'interrupted' } });
  t.match((await daemon.http('GET', `/vms/${vmId}`)).body, { state: 'failed', stateReason: { code: 'interrupted' }, pid: null });
  await pollUntil('no process from the half-restored VM', () => (processesOfVm(stateDir, vmId).length === 0 ? true : undefined), 15_000, 100);
  t.notOk(existsSync(join(stateDir, 'vms', vmId)), 'its dir is gone');

  t.equal((await daemon.http('GET', '/snapshots/good')).body.state, 'ready', 'the snapshot survives the restart');
  const { vm: clone } = await createRunningVm(daemon, { name: 'whole', snapshot: 'good', ports: [8080] });
  t.equal((await guestState(clone)).hostname, 'whole', 'and still restores');

  await daemon.crash();
  await restart();
  const readopted = (await daemon.http('GET', '/vms/whole')).body;
  t.match(readopted, { state: 'running', pid: clone.pid }, 'a clone is re-adopted after a restart like any VM');
  t.ok(isAlive(clone.pid));

  for (const name of [vmId, 'whole', 'base']) await runVmJob(daemon, 'DELETE', `/vms/${name}`);
  t.equal((await daemon.http('DELETE', '/snapshots/good')).status, 200);
  t.same(vmsDirEntries(stateDir), [], 'nothing left under vms/');
});

function assertNoRestoreFrom(t: Test, response: { status: number; body: any }): void {
  t.ok(response.status === 404 || response.status === 409, `a restore from it is refused: ${response.status} ${response.body?.code}`);
}
