// Restart safety with real guests: kill -9 of the daemon while a VM runs (re-adopted: same pid, same
// ports, still answering) and while a create is in flight (failed/interrupted, no process, no dir);
// SIGTERM leaves VMs running; VM dirs no row owns are removed; a TTL expires across restarts.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { isAlive, pollUntil } from '../helpers/api.js';
import { waitForJob } from '../helpers/daemon.js';
import {
  buildBusybox,
  createRunningVm,
  hostPortOf,
  postVm,
  probeHttp,
  processesOfVm,
  startVmDaemon,
  vmsDirEntries,
  waitGone,
} from '../helpers/vms.js';

let daemon = await startVmDaemon(t);
const stateDir = daemon.stateDir;
await buildBusybox(daemon, 'bb');
const restart = async () => {
  daemon = await startVmDaemon(t, { stateDir });
  return daemon;
};

const { vm: keeper } = await createRunningVm(daemon, { name: 'keeper', image: 'bb', ports: [8080] });
const keeperPort = hostPortOf(keeper, 8080);

t.test('kill -9 of the daemon: a running VM is re-adopted with the same pid and ports', async (t) => {
  await daemon.crash();
  t.ok(isAlive(keeper.pid), 'the guest outlives the daemon');
  t.equal(await probeHttp(keeperPort), 200, 'and keeps serving while the daemon is down');
  await restart();
  const after = (await daemon.http('GET', '/vms/keeper')).body;
  t.match(after, { state: 'running', pid: keeper.pid, stateReason: null });
  t.same(after.ports, keeper.ports, 'the same host ports');
  t.equal(await probeHttp(keeperPort), 200, 'still answering');
  t.match(daemon.output(), /re-adopted a running VM/);
});

t.test('kill -9 of the daemon during a create: failed/interrupted, no process, no dir', async (t) => {
  const accepted = await postVm(daemon, { name: 'doomed', image: 'bb', ports: [8080] });
  const vmId = accepted.body.target.id;
  // The hypervisor runs once spawn is done; kill the daemon before the guest is up.
  await pollUntil('the create to reach kernel_boot', async () => {
    const job = (await daemon.http('GET', `/jobs/${accepted.body.id}`)).body;
    if (job.status !== 'running') throw new Error(`the create ended (${job.status}) before the daemon was killed: ${JSON.stringify(job.error)}`);
    return job.stages.find((s: any) => s.name === 'spawn')?.status === 'succeeded' ? job : undefined;
  }, 120_000, 20);
  const guests = processesOfVm(stateDir, vmId);
  t.equal(guests.length, 1, 'one hypervisor runs from the VM dir');
  await daemon.crash();
  t.ok(guests.every(isAlive), 'the half-booted guest outlives the daemon');

  // A dir no row owns (a crash between a delete's steps), with a process using it.
  const orphan = join(stateDir, 'vms', '0123456789abcdef');
  mkdirSync(orphan, { recursive: true });
  writeFileSync(join(orphan, 'root.qcow2'), 'left behind');

  await restart();
  const vm = (await daemon.http('GET', `/vms/${vmId}`)).body;
  t.match(vm, { state: 'failed', stateReason: { code: 'interrupted' }, pid: null, dir: null });
  t.same(vm.ports, [], 'its ports are released');
  for (const pid of guests) await waitGone(pid, 5000).catch(() => undefined);
  t.notOk(guests.some(isAlive), 'its hypervisor was killed');
  t.same(processesOfVm(stateDir, vmId), [], 'nothing runs from its dir');
  t.notOk(existsSync(join(stateDir, 'vms', vmId)), 'its dir is gone');
  t.notOk(existsSync(orphan), 'the orphan dir is gone');
  const job = (await daemon.http('GET', `/jobs/${accepted.body.id}`)).body;
  t.match(job, { status: 'failed', error: { code: 'interrupted' } });
  t.equal((await daemon.http('GET', '/vms/keeper')).body.state, 'running', 'the other VM is untouched');

  const removed = await waitForJob(daemon, (await daemon.http('DELETE', `/vms/${vmId}`)).body.id);
  t.equal(removed.status, 'succeeded');
});

t.test('SIGTERM leaves running VMs running', async (t) => {
  t.equal(await daemon.stop(), 0, 'a clean exit');
  t.ok(isAlive(keeper.pid), 'the guest still runs');
  await restart();
  t.match((await daemon.http('GET', '/vms/keeper')).body, { state: 'running', pid: keeper.pid });
  t.equal(await probeHttp(keeperPort), 200);
});

t.test('the TTL deletes a VM, also across a daemon restart', async (t) => {
  const ttlSeconds = 15;
  const { vm } = await createRunningVm(daemon, { name: 'shortlived', image: 'bb', ttlSeconds });
  const expiresAt = Date.parse(vm.expiresAt);
  t.equal(expiresAt - Date.parse(vm.createdAt), ttlSeconds * 1000, 'expiresAt is createdAt + ttl');
  t.ok(Date.now() < expiresAt, `still time before expiry (${expiresAt - Date.now()} ms)`);
  await daemon.crash();
  await restart();
  await pollUntil('shortlived to be deleted by its TTL', async () => ((await daemon.http('GET', '/vms/shortlived')).status === 404 ? true : undefined), Math.max(0, expiresAt - Date.now()) + 30_000, 250);
  t.ok(Date.now() >= expiresAt, 'not before its time');
  const deletes = (await daemon.http('GET', `/jobs?kind=vm.delete&targetId=${vm.id}`)).body.items;
  t.match(deletes, [{ status: 'succeeded', result: { reason: 'ttl_expired' } }]);
  await waitGone(vm.pid);
  t.notOk(isAlive(vm.pid), 'its hypervisor is gone');
  t.notOk(existsSync(join(stateDir, 'vms', vm.id)), 'its dir is gone');
});

t.test('deleting the re-adopted VM leaves nothing behind', async (t) => {
  const job = await waitForJob(daemon, (await daemon.http('DELETE', '/vms/keeper')).body.id);
  t.equal(job.status, 'succeeded', JSON.stringify(job.error));
  await waitGone(keeper.pid);
  t.notOk(isAlive(keeper.pid), 'its hypervisor (a process this daemon did not start) is gone');
  t.same(vmsDirEntries(stateDir), [], 'nothing left under vms/');
  t.not(await probeHttp(keeperPort, 2000), 200, 'the port no longer answers');
});
