// POST /vms {start: false} (`banger vm create --no-start`) on real QEMU: the create job makes the
// disks and reserves the ports, skips the boot and leaves the VM stopped with no process; a later
// start boots it with the requested ports published. The limits: BANGER_MAX_VMS counts VMs that run
// (checked at a create that boots and at start), BANGER_MAX_VM_RECORDS every VM row. At most one
// guest runs at a time.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { assertProblem, isAlive } from '../helpers/api.js';
import { bangerBin, waitForJob } from '../helpers/daemon.js';
import { buildBusybox, hostPortOf, postVm, probeHttp, processesOfVm, runVmJob, startVmDaemon, vmJobTimeoutMs, vmsDirEntries, waitGone } from '../helpers/vms.js';

const prepareStages = ['validate', 'clone_disks', 'seed_work_disk', 'allocate_network'];
const bootStages = ['spawn', 'kernel_boot', 'agent_ready', 'ports_ready', 'running'];

const daemon = await startVmDaemon(t, { env: { BANGER_MAX_VMS: '1', BANGER_MAX_VM_RECORDS: '2' } });
await buildBusybox(daemon, 'bb');
const vmDir = (id: string) => join(daemon.stateDir, 'vms', id);
const small = { image: 'bb', memoryMiB: 256, workDiskSize: '256M' };

t.test('start: false makes the disks, boots nothing; a later start publishes the requested ports', async (t) => {
  const accepted = await postVm(daemon, { name: 'later', ...small, ports: [8080], start: false });
  const vmId = accepted.body.target.id;
  t.same(accepted.body.stages.map((stage: any) => stage.name), [...prepareStages, ...bootStages], 'the create plans the same stages');
  const early = (await daemon.http('GET', `/vms/${vmId}`)).body;
  if (early.state === 'creating') t.match(early.stateReason, { code: 'created_stopped' }, 'while created, it says it will not boot');
  else t.equal(early.state, 'stopped');

  const job = await waitForJob(daemon, accepted.body.id, vmJobTimeoutMs);
  t.equal(job.status, 'succeeded', job.error?.detail);
  t.same(
    job.stages.map((stage: any) => [stage.name, stage.status]),
    [...prepareStages.map((name) => [name, 'succeeded']), ...bootStages.map((name) => [name, 'skipped'])],
    'the boot stages are skipped',
  );
  for (const name of bootStages) t.equal(job.stages.find((stage: any) => stage.name === name).detail, 'start: false', `${name} says why`);
  t.equal(job.result.vm.state, 'stopped');

  const vm = (await daemon.http('GET', `/vms/${vmId}`)).body;
  t.match(vm, { name: 'later', state: 'stopped', stateReason: { code: 'created_stopped', message: /created without starting/ }, pid: null, bootedAt: null, bootMode: null, dir: vmDir(vmId) });
  t.same(vm.ports.map((p: any) => [p.guestPort, p.hostAddress, p.wait]), [[22, '127.0.0.1', false], [8080, '127.0.0.1', true]], 'the ports are reserved, like a stopped VM keeps them');
  for (const phase of prepareStages) t.type(vm.timings?.[phase], 'number', `timing of ${phase}`);
  t.ok(existsSync(join(vmDir(vmId), 'root.qcow2')), 'the root disk exists');
  t.ok(existsSync(join(vmDir(vmId), 'work.ext4')), 'the work disk exists');
  t.same(processesOfVm(daemon.stateDir, vmId), [], 'no hypervisor runs');
  t.same((await daemon.http('GET', '/vms?state=stopped')).body.items.map((v: any) => v.name), ['later']);
  assertProblem(t, await daemon.http('POST', '/vms/later/stop'), { status: 409, code: 'vm-state-conflict' });

  const startJob = await runVmJob(daemon, 'POST', '/vms/later/start');
  t.same(startJob.stages.map((s: any) => [s.name, s.status]), [['validate', 'succeeded'], ...bootStages.map((name) => [name, 'succeeded'])]);
  const running = (await daemon.http('GET', `/vms/${vmId}`)).body;
  t.match(running, { state: 'running', stateReason: null, bootMode: 'cold' });
  t.ok(Number.isInteger(running.pid) && isAlive(running.pid), 'the hypervisor runs under the recorded pid');
  t.same(running.ports.map((p: any) => p.guestPort), [22, 8080]);
  t.equal(await probeHttp(hostPortOf(running, 8080)), 200, 'the port requested at create answers');

  const deleted = await runVmJob(daemon, 'DELETE', '/vms/later');
  t.equal(deleted.result.reason, 'delete_requested');
  await waitGone(running.pid);
  assertProblem(t, await daemon.http('GET', '/vms/later'), { status: 404, code: 'vm-not-found' });
  t.same(processesOfVm(daemon.stateDir, vmId), [], 'no process uses its dir');
  t.same(vmsDirEntries(daemon.stateDir), [], 'nothing left under vms/');
});

t.test('banger vm create --no-start', async (t) => {
  const banger = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
      const env = { ...process.env };
      for (const name of ['BANGER_URL', 'BANGER_TOKEN', 'BANGER_SOCKET', 'BANGER_STATE_DIR']) delete env[name];
      execFile(process.execPath, [bangerBin, '--socket', daemon.socketPath, ...args], { env, timeout: 120_000 }, (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') return reject(error);
        resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
      });
    });
  const help = await banger(['vm', 'create', '--help']);
  t.match(help.stdout, /--no-start +create it stopped/, '--help says what it does');

  const run = await banger(['vm', 'create', 'cli-later', '--image', 'bb', '--memory', '256', '--no-start']);
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, /– spawn +skipped: start: false/);
  t.match(run.stdout, 'vm cli-later is stopped (created without starting); boot it with: banger vm start cli-later');
  const vm = (await daemon.http('GET', '/vms/cli-later')).body;
  t.match(vm, { state: 'stopped', stateReason: { code: 'created_stopped' }, pid: null });

  const refused = await banger(['vm', 'create', 'x', '--snapshot', 'any', '--no-start']);
  t.equal(refused.code, 2, 'a usage error');
  t.match(refused.stderr, /--no-start cannot go with --snapshot/);

  await runVmJob(daemon, 'DELETE', '/vms/cli-later');
  t.same(vmsDirEntries(daemon.stateDir), []);
});

t.test('BANGER_MAX_VMS counts VMs that run; BANGER_MAX_VM_RECORDS counts every VM', async (t) => {
  const rows = async () => (await daemon.http('GET', '/vms')).body.items.map((v: any) => v.name);
  for (const name of ['one', 'two']) {
    const accepted = await postVm(daemon, { name, ...small, start: false });
    const job = await waitForJob(daemon, accepted.body.id, vmJobTimeoutMs);
    t.equal(job.status, 'succeeded', `${name} created stopped: ${job.error?.detail ?? ''}`);
  }
  t.same(await rows(), ['one', 'two'], 'two stopped VMs with BANGER_MAX_VMS=1');

  assertProblem(t, await daemon.http('POST', '/vms', { name: 'three', ...small, start: false }), { status: 409, code: 'vm-limit-reached', detail: /has 2 VMs in any state.*BANGER_MAX_VM_RECORDS is 2/ });
  assertProblem(t, await daemon.http('POST', '/vms', { name: 'three', ...small }), { status: 409, code: 'vm-limit-reached', detail: /BANGER_MAX_VM_RECORDS/ });

  await runVmJob(daemon, 'POST', '/vms/one/start');
  const one = (await daemon.http('GET', '/vms/one')).body;
  t.equal(one.state, 'running');
  const jobsBefore = (await daemon.http('GET', '/jobs?limit=500')).body.items.length;
  assertProblem(t, await daemon.http('POST', '/vms/two/start'), { status: 409, code: 'vm-limit-reached', detail: /runs 1 VMs.*BANGER_MAX_VMS is 1/ });
  assertProblem(t, await daemon.http('POST', '/vms/two/restart'), { status: 409, code: 'vm-limit-reached', detail: /BANGER_MAX_VMS is 1/ });
  const two = (await daemon.http('GET', '/vms/two')).body;
  t.match(two, { state: 'stopped', stateReason: { code: 'created_stopped' } }, 'the refused VM stays as it was');
  t.equal((await daemon.http('GET', '/jobs?limit=500')).body.items.length, jobsBefore, 'no job was created');

  // With room for a record, a create that boots meets BANGER_MAX_VMS, and one that does not boot passes.
  await runVmJob(daemon, 'DELETE', '/vms/two');
  assertProblem(t, await daemon.http('POST', '/vms', { name: 'three', ...small }), { status: 409, code: 'vm-limit-reached', detail: /runs 1 VMs.*BANGER_MAX_VMS is 1/ });
  t.same(await rows(), ['one'], 'a refused create leaves no row');
  const three = await postVm(daemon, { name: 'three', ...small, start: false });
  t.equal((await waitForJob(daemon, three.body.id, vmJobTimeoutMs)).status, 'succeeded', 'start: false is not counted against BANGER_MAX_VMS');
  t.same(processesOfVm(daemon.stateDir, three.body.target.id), []);

  await runVmJob(daemon, 'DELETE', '/vms/one');
  await runVmJob(daemon, 'DELETE', '/vms/three');
  await waitGone(one.pid);
  t.same(vmsDirEntries(daemon.stateDir), [], 'nothing left under vms/');
});

t.test('start: false cannot restore a snapshot', async (t) => {
  assertProblem(t, await daemon.http('POST', '/vms', { name: 'restored', snapshot: 'any', start: false }), { status: 422, code: 'validation-failed', fields: ['body.start'] });
  t.same((await daemon.http('GET', '/vms')).body.items, [], 'no row');
});
