// VMs through the API on real QEMU: create → running with a published port answering, stop, start,
// delete with nothing left; two at once; kill -9 of QEMU; failure classes; conflicts with a running VM.
// At most two guests run at once (the test machine has two cores and no KVM).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { assertProblem, isAlive, pollUntil } from '../helpers/api.js';
import { waitForJob } from '../helpers/daemon.js';
import { makeKernelFile } from '../helpers/ext4.js';
import { execIn } from '../helpers/exec.js';
import { checkExec } from '../helpers/exec-checks.js';
import { checkFiles } from '../helpers/file-checks.js';
import { parseMetrics, valueOf } from '../helpers/metrics.js';
import {
  buildBusybox,
  createRunningVm,
  hostPortOf,
  postVm,
  probeHttp,
  processesOfVm,
  runVmJob,
  startVmDaemon,
  vmJobTimeoutMs,
  vmsDirEntries,
  waitGone,
} from '../helpers/vms.js';

const createStages = ['validate', 'clone_disks', 'seed_work_disk', 'allocate_network', 'spawn', 'kernel_boot', 'agent_ready', 'ports_ready', 'running'];

// One job at a time: a second create waits in the queue, where it can be cancelled before it runs.
const daemon = await startVmDaemon(t, { env: { BANGER_MAX_VMS: '2', BANGER_VM_PORT_TIMEOUT_SECONDS: '6', BANGER_MAX_CONCURRENT_JOBS: '1' } });
const image = await buildBusybox(daemon, 'bb');
const vmDir = (id: string) => join(daemon.stateDir, 'vms', id);

t.test('a busybox VM: create, reach, stop, start, delete', async (t) => {
  const started = Date.now();
  const accepted = await postVm(daemon, { name: 'alpha', image: 'bb', ports: [8080], labels: { suite: 'api', role: 'web' }, cpus: 1, memoryMiB: 256, workDiskSize: '256M' });
  t.equal(accepted.headers.location, `/jobs/${accepted.body.id}`, 'Location names the job');
  t.equal(accepted.body.kind, 'vm.create');
  t.same(accepted.body.stages.map((stage: any) => stage.name), createStages, 'every stage is planned from the start');
  const vmId = accepted.body.target.id;
  t.match(accepted.body.target, { type: 'vm', id: vmId, name: 'alpha', href: `/vms/${vmId}` });

  const early = await daemon.http('GET', '/vms/alpha');
  t.equal(early.status, 200, 'the VM row exists from the start');
  t.ok(['creating', 'running'].includes(early.body.state), `state while creating: ${early.body.state}`);

  const job = await waitForJob(daemon, accepted.body.id, vmJobTimeoutMs);
  t.equal(job.status, 'succeeded', job.error?.detail);
  t.comment(`POST → running in ${Date.now() - started} ms: ${job.stages.map((s: any) => `${s.name} ${s.durationMs}`).join(', ')}`);
  t.same(job.stages.filter((stage: any) => stage.status !== 'succeeded'), [], 'every stage succeeded');
  for (const stage of job.stages) t.ok(stage.startedAt && stage.finishedAt, `${stage.name} has timestamps`);
  t.equal(job.result.vm.state, 'running');

  const vm = (await daemon.http('GET', `/vms/${vmId}`)).body;
  t.match(vm, {
    id: vmId,
    name: 'alpha',
    state: 'running',
    stateReason: null,
    image: { id: image.id, name: 'bb' },
    cpus: 1,
    memoryMiB: 256,
    workDiskSize: '256M',
    hypervisor: 'qemu',
    labels: { suite: 'api', role: 'web' },
    dir: vmDir(vmId),
  });
  t.ok(vm.accel === 'tcg' || vm.accel === 'kvm', `accel ${vm.accel}`);
  t.ok(Number.isInteger(vm.pid) && isAlive(vm.pid), 'the hypervisor runs under the recorded pid');
  t.ok(Number.isInteger(vm.hostOverheadBytes) && vm.hostOverheadBytes > 0, `the hypervisor's memory beyond guest RAM: ${vm.hostOverheadBytes} bytes`);
  t.equal((await daemon.http('GET', '/vms/alpha')).body.hostOverheadBytes, vm.hostOverheadBytes, 'asked again within 5 s: the same reading, not another read of smaps');
  t.same(vm.ports.map((p: any) => [p.guestPort, p.hostAddress, p.wait]), [[22, '127.0.0.1', false], [8080, '127.0.0.1', true]]);
  t.match(vm.ssh, { host: '127.0.0.1', port: hostPortOf(vm, 22), user: 'root', privateKeyPath: join(daemon.stateDir, 'ssh', 'id_ed25519') });
  t.match(vm.ssh.command, `-p ${hostPortOf(vm, 22)}`);
  for (const phase of createStages.slice(0, -1)) t.type(vm.timings[phase], 'number', `timing of ${phase}`);
  t.ok(vm.timings.total >= vm.timings.agent_ready, 'a total');
  t.equal(await probeHttp(hostPortOf(vm, 8080)), 200, 'the guest HTTP service answers through its published port');

  const console = await daemon.http('GET', `/vms/alpha/console?tail=5`);
  t.equal(console.status, 200);
  t.match(String(console.headers['content-type']), /^text\/plain/);
  t.ok(console.text.split('\n').filter(Boolean).length <= 5, 'at most 5 lines');
  const full = await daemon.http('GET', `/vms/${vmId}/console`);
  t.match(full.text, /banger-agent: version \d+ started/, 'the whole console log');

  await t.test('the boot shows in GET /metrics', async (t) => {
    const scraped = await daemon.http('GET', '/metrics');
    t.equal(scraped.status, 200);
    const samples = parseMetrics(scraped.text);
    for (const phase of [...createStages.slice(0, -1), 'total']) {
      t.ok(valueOf(samples, 'banger_vm_boot_phase_duration_seconds_count', { phase, mode: 'cold' })! >= 1, `boot phase ${phase}`);
    }
    t.ok(valueOf(samples, 'banger_job_stage_duration_seconds_count', { kind: 'vm.create', stage: 'kernel_boot', status: 'succeeded' })! >= 1, 'the create job\'s stages');
    t.ok(valueOf(samples, 'banger_job_duration_seconds_count', { kind: 'vm.create', status: 'succeeded' })! >= 1, 'the create job');
    t.ok(valueOf(samples, 'banger_vms', { state: 'running' })! >= 1, 'VMs by state');
  });

  const cliEnv = { ...process.env };
  for (const name of ['BANGER_URL', 'BANGER_TOKEN', 'BANGER_STATE_DIR']) delete cliEnv[name];
  await t.test('exec in a busybox guest, over dropbear', async (t) => {
    await checkExec(t, daemon, 'alpha', { server: 'dropbear', cliEnv });
  });

  await t.test('files and streamed stdin in a busybox guest, over SFTP and tar', async (t) => {
    await checkFiles(t, daemon, 'alpha', { bigFileBytes: 16 * 1024 * 1024, cliEnv });
  });

  await t.test('listing filters by state and label', async (t) => {
    t.same((await daemon.http('GET', '/vms?label=suite=api&label=role=web')).body.items.map((v: any) => v.name), ['alpha']);
    t.same((await daemon.http('GET', '/vms?label=suite=other')).body.items, []);
    t.same((await daemon.http('GET', '/vms?state=running')).body.items.map((v: any) => v.name), ['alpha']);
    t.same((await daemon.http('GET', '/vms?state=stopped')).body.items, []);
  });

  await t.test('the image cannot be deleted while the VM uses it', async (t) => {
    assertProblem(t, await daemon.http('DELETE', '/images/bb'), { status: 409, code: 'image-in-use', detail: /alpha/ });
  });

  await t.test('a second VM at once gets other host ports', async (t) => {
    const { vm: beta } = await createRunningVm(daemon, { name: 'beta', image: image.id, ports: [8080], labels: { suite: 'api' } });
    const mine = vm.ports.map((p: any) => p.hostPort);
    const theirs = beta.ports.map((p: any) => p.hostPort);
    t.same(mine.filter((port: number) => theirs.includes(port)), [], `no shared host port: ${mine} vs ${theirs}`);
    t.equal(await probeHttp(hostPortOf(beta, 8080)), 200, 'beta answers');
    t.equal(await probeHttp(hostPortOf(vm, 8080)), 200, 'alpha still answers');

    assertProblem(t, await daemon.http('POST', '/vms', { image: 'bb' }), { status: 409, code: 'vm-limit-reached' });

    // kill -9 of the hypervisor: the monitor notices and says why.
    process.kill(beta.pid, 'SIGKILL');
    const stopped = await pollUntil('beta to be marked stopped', async () => {
      const current = (await daemon.http('GET', '/vms/beta')).body;
      return current.state === 'stopped' ? current : undefined;
    }, 15_000, 100);
    t.equal(stopped.stateReason.code, 'hypervisor_exited');
    t.match(stopped.stateReason.message, new RegExp(`pid ${beta.pid}\\b.*exited`));
    t.equal(stopped.pid, null);
    t.same(stopped.ports.map((p: any) => p.hostPort), theirs, 'a stopped VM keeps its port reservations');
    t.same(processesOfVm(daemon.stateDir, beta.id), [], 'nothing runs from its dir');
  });

  await t.test('pause and resume keep the process, memory and ports', async (t) => {
    const port = hostPortOf(vm, 8080);
    const paused = await daemon.http('POST', '/vms/alpha/pause');
    t.equal(paused.status, 200, JSON.stringify(paused.body));
    t.match(paused.body, { state: 'paused', pid: vm.pid, stateReason: { code: 'pause_requested' } });
    t.not(await probeHttp(port, 1500), 200, 'a paused guest does not answer');
    t.ok(isAlive(vm.pid), 'its hypervisor process stays');
    assertProblem(t, await daemon.http('POST', '/vms/alpha/pause'), { status: 409, code: 'vm-state-conflict' });
    assertProblem(t, await daemon.http('POST', '/vms/alpha/start'), { status: 409, code: 'vm-state-conflict' });
    t.same((await daemon.http('GET', '/vms?state=paused')).body.items.map((v: any) => v.name), ['alpha']);

    const resumed = await daemon.http('POST', '/vms/alpha/resume');
    t.equal(resumed.status, 200, JSON.stringify(resumed.body));
    t.match(resumed.body, { state: 'running', pid: vm.pid, stateReason: null });
    t.equal(await probeHttp(port), 200, 'the same guest answers again');
    assertProblem(t, await daemon.http('POST', '/vms/alpha/resume'), { status: 409, code: 'vm-state-conflict' });
    const kinds = (await daemon.http('GET', `/jobs?targetId=${vmId}&limit=3`)).body.items.map((job: any) => [job.kind, job.status]);
    t.same(kinds.slice(0, 2), [['vm.resume', 'succeeded'], ['vm.pause', 'succeeded']], 'each ran as a job');

    // A paused VM stops cleanly: the guest is let run to hear the power button.
    await daemon.http('POST', '/vms/alpha/pause');
  });

  await t.test('stop and start keep the disks and the ports', async (t) => {
    const pid = vm.pid;
    const stopJob = await runVmJob(daemon, 'POST', '/vms/alpha/stop?graceSeconds=10');
    t.same(stopJob.stages.map((s: any) => [s.name, s.status]), [['stop_hypervisor', 'succeeded'], ['stopped', 'succeeded']]);
    t.equal(stopJob.result.outcome, 'powered-off', 'the paused guest was let run and powered itself off');
    const stopped = (await daemon.http('GET', '/vms/alpha')).body;
    t.match(stopped, { state: 'stopped', pid: null, stateReason: { code: 'stop_requested' } });
    await waitGone(pid);
    t.notOk(isAlive(pid), 'the hypervisor is gone');
    t.ok(existsSync(join(vmDir(vmId), 'root.qcow2')) && existsSync(join(vmDir(vmId), 'work.ext4')), 'the disks stay');
    t.not(await probeHttp(hostPortOf(vm, 8080), 2000), 200, 'nothing answers on the port');
    assertProblem(t, await daemon.http('POST', '/vms/alpha/stop'), { status: 409, code: 'vm-state-conflict' });

    const startJob = await runVmJob(daemon, 'POST', '/vms/alpha/start');
    t.same(startJob.stages.map((s: any) => s.name), ['validate', 'spawn', 'kernel_boot', 'agent_ready', 'ports_ready', 'running']);
    const again = (await daemon.http('GET', '/vms/alpha')).body;
    t.equal(again.state, 'running');
    t.not(again.pid, pid, 'a new hypervisor process');
    t.same(again.ports, vm.ports, 'the same host ports');
    t.equal(await probeHttp(hostPortOf(again, 8080)), 200, 'answers again');
    const exec = await execIn(daemon, 'alpha', { command: ['cat', '/proc/sys/kernel/random/boot_id'] });
    t.match(exec.stdout.toString(), /^[0-9a-f-]{36}\n$/, 'exec reaches the new boot over a new connection');
    assertProblem(t, await daemon.http('POST', '/vms/alpha/start'), { status: 409, code: 'vm-state-conflict' });
  });

  await t.test('delete removes process, files and ports', async (t) => {
    const current = (await daemon.http('GET', '/vms/alpha')).body;
    const job = await runVmJob(daemon, 'DELETE', '/vms/alpha');
    t.same(job.stages.map((s: any) => s.name), ['stop_hypervisor', 'remove_files', 'release_network', 'deleted']);
    t.equal(job.result.reason, 'delete_requested');
    assertProblem(t, await daemon.http('GET', '/vms/alpha'), { status: 404, code: 'vm-not-found' });
    await waitGone(current.pid);
    t.notOk(existsSync(vmDir(vmId)), 'the VM dir is gone');
    t.same(processesOfVm(daemon.stateDir, vmId), [], 'no process uses it');

    // The label selector takes beta (stopped) in one job.
    const bulk = await runVmJob(daemon, 'DELETE', '/vms?label=suite=api');
    t.same(bulk.result.deleted.map((v: any) => v.name), ['beta']);
    t.same(bulk.stages.map((s: any) => [s.name, s.status]), [['delete beta', 'succeeded']]);
    t.equal(bulk.target.href, '/vms?label=suite%3Dapi', 'the job links to the VMs it selected');
    t.same(vmsDirEntries(daemon.stateDir), [], 'nothing left under vms/');
    t.same((await daemon.http('GET', '/vms')).body.items, []);
  });
});

t.test('failures are classified, explained and cleaned up', async (t) => {
  const assertCleanFailure = async (t: any, jobId: string, code: string, reason: string) => {
    const job = await waitForJob(daemon, jobId, vmJobTimeoutMs);
    t.equal(job.status, 'failed');
    t.equal(job.error.code, code, job.error.detail);
    const vm = (await daemon.http('GET', `/vms/${job.target.id}`)).body;
    t.match(vm, { state: 'failed', stateReason: { code: reason }, pid: null, dir: null });
    t.same(vm.ports, [], 'its ports are released');
    t.notOk(existsSync(vmDir(vm.id)), 'no VM dir');
    t.same(processesOfVm(daemon.stateDir, vm.id), [], 'no process');
    return { job, vm };
  };

  await t.test('port_timeout: a requested port nobody serves', async (t) => {
    const accepted = await postVm(daemon, { name: 'closed-port', image: 'bb', ports: [4096] });
    const { job, vm } = await assertCleanFailure(t, accepted.body.id, 'port-timeout', 'port_timeout');
    t.match(job.error.detail, /guest port 4096 .*did not accept connections/);
    t.match(job.error.detail, /--- last console lines ---\n[\s\S]*banger-rcS: system started/, 'the console lines are in the problem');
    t.equal(job.error.logPath, vm.consoleLogPath, 'the problem names the kept console log');
    t.ok(existsSync(vm.consoleLogPath), 'the console log is kept while the failed VM is');
    t.match((await daemon.http('GET', `/vms/${vm.id}/console?tail=50`)).text, /system started/);
    t.same(job.stages.find((s: any) => s.name === 'ports_ready').status, 'failed');
    await runVmJob(daemon, 'DELETE', `/vms/${vm.id}`);
    t.notOk(existsSync(vm.consoleLogPath), 'deleting the failed VM removes its log');
  });

  await t.test('cancelled creates, running or still queued, leave a failed VM and nothing else', async (t) => {
    const accepted = await postVm(daemon, { name: 'cancelled', image: 'bb' });
    const queued = await postVm(daemon, { name: 'queued', image: 'bb' });
    t.equal(queued.body.status, 'queued', 'the second create waits for the first');
    const vmId = accepted.body.target.id;
    const queuedCancel = await daemon.http('POST', `/jobs/${queued.body.id}/cancel`);
    t.match(queuedCancel.body, { status: 'cancelled' });
    const settled = await pollUntil('the queued VM to be settled', async () => {
      const vm = (await daemon.http('GET', `/vms/${queued.body.target.id}`)).body;
      return vm.state === 'failed' ? vm : undefined;
    }, 10_000, 100);
    t.match(settled.stateReason, { code: 'cancelled', message: new RegExp(`job ${queued.body.id} was cancelled`) });

    await pollUntil('the guest to be spawned', async () => {
      const job = (await daemon.http('GET', `/jobs/${accepted.body.id}`)).body;
      if (job.status !== 'running') throw new Error(`the create ended before it could be cancelled: ${job.status}`);
      return job.stages.find((s: any) => s.name === 'spawn')?.status === 'succeeded' ? job : undefined;
    }, 60_000, 20);
    const guests = processesOfVm(daemon.stateDir, vmId);
    t.equal(guests.length, 1, 'the hypervisor runs');
    const cancelled = await daemon.http('POST', `/jobs/${accepted.body.id}/cancel`);
    t.equal(cancelled.status, 200, cancelled.text);
    t.match(cancelled.body, { status: 'cancelled', error: { code: 'cancelled' } });
    const vm = (await daemon.http('GET', `/vms/${vmId}`)).body;
    t.match(vm, { state: 'failed', stateReason: { code: 'cancelled' }, pid: null, dir: null });
    t.notOk(guests.some(isAlive), 'the hypervisor is gone');
    t.notOk(existsSync(vmDir(vmId)), 'no VM dir');
    await runVmJob(daemon, 'DELETE', `/vms/${vmId}`);
    await runVmJob(daemon, 'DELETE', `/vms/${queued.body.target.id}`);
  });

  const files = join(daemon.stateDir, 'test-files');
  mkdirSync(files, { recursive: true });
  const register = async (name: string, overrides: Record<string, string>) => {
    const res = await daemon.http('POST', '/images', {
      name,
      rootfsPath: image.rootfsPath,
      kernelPath: image.kernelPath,
      initrdPath: image.initrdPath,
      workSeedPath: image.workSeedPath,
      ...overrides,
    });
    if (res.status !== 201) throw new Error(`register ${name}: ${res.status} ${res.text}`);
  };

  await t.test('kernel_panic: an initrd the kernel cannot use', async (t) => {
    // The gzip magic gets it past registration; the kernel cannot unpack what follows.
    const junk = join(files, 'junk-initrd.img');
    writeFileSync(junk, Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), Buffer.alloc(512 * 1024, 0x5a)]));
    await register('panics', { initrdPath: junk });
    const accepted = await postVm(daemon, { name: 'panicky', image: 'panics' });
    const { job, vm } = await assertCleanFailure(t, accepted.body.id, 'kernel-panic', 'kernel_panic');
    t.match(job.error.detail, /Kernel panic - not syncing/);
    t.ok(job.stages.some((s: any) => ['kernel_boot', 'agent_ready'].includes(s.name) && s.status === 'failed'), 'a boot stage failed');
    await runVmJob(daemon, 'DELETE', `/vms/${vm.id}`);
  });

  await t.test('hypervisor_exited: a kernel file that is not a kernel, with its stderr', async (t) => {
    // A bzImage header and nothing else: registration takes it, QEMU refuses it (boot protocol 0).
    const notKernel = makeKernelFile(files, 'not-a-kernel');
    await register('nokernel', { kernelPath: notKernel });
    // A short TTL: the failed VM is removed by the daemon without being asked.
    const accepted = await postVm(daemon, { name: 'no-kernel', image: 'nokernel', ttlSeconds: 2 });
    const { job, vm } = await assertCleanFailure(t, accepted.body.id, 'hypervisor-exited', 'hypervisor_exited');
    t.match(job.error.detail, /--- hypervisor output ---\n.+/);
    t.equal(job.stages.find((s: any) => s.name === 'spawn').status, 'failed');

    await pollUntil('the TTL to delete the failed VM', async () => ((await daemon.http('GET', `/vms/${vm.id}`)).status === 404 ? true : undefined), 20_000, 200);
    const deletes = (await daemon.http('GET', `/jobs?kind=vm.delete&targetId=${vm.id}`)).body.items;
    t.equal(deletes.length, 1, 'one delete job');
    t.match(deletes[0], { status: 'succeeded', result: { reason: 'ttl_expired' } });
  });
  await daemon.http('DELETE', '/images/panics');
  await daemon.http('DELETE', '/images/nokernel');
});

// Requests refused with no guest involved (bad bodies, unknown VMs, bad queries, name and limit
// conflicts) run in-process in test/api/validation-vms.test.ts; these need a VM that really runs.
t.test('conflicts with a running VM are refused before any job or row exists', async (t) => {
  await createRunningVm(daemon, { name: 'held', image: 'bb', labels: { suite: 'bad' } });
  t.teardown(async () => {
    await daemon.http('DELETE', '/vms/held');
  });
  const jobsBefore = (await daemon.http('GET', '/jobs?limit=500')).body.items.length;
  assertProblem(t, await daemon.http('POST', '/vms/held/start'), { status: 409, code: 'vm-state-conflict' });
  // With a grace the stop waits for the guest to power off (seconds under emulation, at most 5):
  // without one it ended within ~0.1 s, sometimes before the deletes below reached a loaded daemon.
  const stop = await daemon.http('POST', '/vms/held/stop?graceSeconds=5');
  t.equal(stop.status, 202);
  const [deleteOne, deleteSelected] = await Promise.all([daemon.http('DELETE', '/vms/held'), daemon.http('DELETE', '/vms?label=suite=bad')]);
  assertProblem(t, deleteOne, { status: 409, code: 'resource-busy' });
  assertProblem(t, deleteSelected, { status: 409, code: 'resource-busy' });
  await waitForJob(daemon, stop.body.id);
  t.equal((await daemon.http('GET', '/jobs?limit=500')).body.items.length, jobsBefore + 1, 'only the stop job was created');
  t.same((await daemon.http('GET', '/vms')).body.items.map((v: any) => v.name), ['held'], 'no VM row was added');
});
