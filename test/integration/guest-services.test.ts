// Image services on real busybox guests: declared at build, started at boot by the rc.d scripts,
// their ports published and waited for, shown on GET /vms/{id}, a service that exits put into the
// VM's state reason with the end of its log, and one that exits before its port opens failing
// the create at once. One guest at a time.
import { execFile } from 'node:child_process';
import t from 'tap';
import { assertProblem, pollUntil } from '../helpers/api.js';
import { bangerBin, waitForJob } from '../helpers/daemon.js';
import { execIn } from '../helpers/exec.js';
import { createRunningVm, hostPortOf, postVm, probeHttp, runVmJob, startVmDaemon, vmJobTimeoutMs, vmsDirEntries } from '../helpers/vms.js';

const daemon = await startVmDaemon(t, {
  env: { BANGER_VM_SERVICE_POLL_MS: '500', BANGER_VM_MONITOR_INTERVAL_MS: '500', BANGER_VM_PORT_TIMEOUT_SECONDS: '90', BANGER_MAX_VMS: '1' },
});

const services = [
  { name: 'web', port: 9000, command: 'exec httpd -f -p 9000 -h /srv/www' },
  { name: 'sleeper', user: 'nobody', command: 'id -un > /tmp/sleeper-user; exec sleep 100000' },
  { name: 'crash', command: `echo 'starting up'; echo 'config "missing": \\no such file' >&2; exit 3` },
];

async function build(body: Record<string, unknown>): Promise<any> {
  const res = await daemon.http('POST', '/images/builds', body);
  if (res.status !== 202) throw new Error(`POST /images/builds: ${res.status} ${res.text}`);
  return waitForJob(daemon, res.body.id, 10 * 60_000);
}

t.test('a build refuses services it could not run, before any job', async (t) => {
  const bad = await daemon.http('POST', '/images/builds', {
    name: 'bad-services',
    recipe: 'busybox',
    services: [
      { name: 'web', port: 22, command: 'true' },
      { name: 'web', command: '   ' },
      { name: 'probe', port: 8080, command: 'true' },
    ],
  });
  assertProblem(t, bad, { status: 422, code: 'validation-failed', fields: ['body.services.0.port', 'body.services.1.name', 'body.services.1.command', 'body.services.2.port'] });
  const shapes = await daemon.http('POST', '/images/builds', { name: 'bad-services', recipe: 'busybox', services: [{ name: 'Web!', command: 'x', port: 0, user: 'root;', extra: 1 }] });
  assertProblem(t, shapes, { status: 422, code: 'validation-failed' });
  t.equal((await daemon.http('GET', '/images/bad-services')).status, 404, 'no image was recorded');

  const unknownUser = await build({ name: 'bad-user', recipe: 'busybox', services: [{ name: 'x', user: 'postgres', command: 'sleep 1' }] });
  t.equal(unknownUser.status, 'failed');
  t.equal(unknownUser.error?.code, 'image-build-failed');
  t.match(unknownUser.error?.detail, /no such user: x runs as postgres/);
  t.equal((await daemon.http('GET', '/images/bad-user')).status, 404, 'a failed build leaves no image');
});

t.test('services start at boot, are published, and report how they are', async (t) => {
  const built = await build({ name: 'svc', recipe: 'busybox', services });
  t.equal(built.status, 'succeeded', built.error?.detail);
  const image = (await daemon.http('GET', '/images/svc')).body;
  t.same(
    image.services,
    services.map((service) => ({ name: service.name, command: service.command, port: service.port ?? null, user: service.user ?? null })),
    'the image records its services',
  );

  const { vm, job } = await createRunningVm(daemon, { name: 'svc1', image: 'svc', memoryMiB: 256, workDiskSize: '256M' });
  t.match(job.stages.find((stage: any) => stage.name === 'ports_ready'), { status: 'succeeded', detail: /^9000→/ }, "the service's port was waited for");
  t.same(
    vm.ports.map((port: any) => [port.guestPort, port.wait]),
    [
      [22, false],
      [9000, true],
    ],
  );
  t.equal(await probeHttp(hostPortOf(vm, 9000)), 200, 'the service answers through its published port');

  const byName = (view: any) => Object.fromEntries(view.services.map((service: any) => [service.name, service]));
  const seen = byName(vm);
  t.match(seen.web, { state: 'running', up: true, port: 9000, exitStatus: null, logTail: null });
  t.match(seen.sleeper, { state: 'running', up: true, port: null });
  t.match(seen.crash, { state: 'exited', up: false, exitStatus: 3 });
  t.match(seen.crash.logTail, /starting up\nconfig "missing": \\no such file/, 'the end of its log, quotes and backslashes intact');
  t.ok(Date.now() - Date.parse(seen.web.observedAt) < 60_000, 'observed just now');

  const user = await execIn(daemon, 'svc1', { command: ['cat', '/tmp/sleeper-user'] });
  t.equal(user.stdout.toString(), 'nobody\n', 'a service runs as its user');

  const reasoned = await pollUntil(
    'the exited service in the state reason',
    async () => {
      const now = (await daemon.http('GET', '/vms/svc1')).body;
      return now.stateReason?.code === 'service_exited' ? now : undefined;
    },
    30_000,
    250,
  );
  t.equal(reasoned.state, 'running', 'the VM keeps running');
  t.match(reasoned.stateReason.message, /^service crash exited with status 3; the end of \/var\/log\/banger\/crash.log:\nstarting up\n/);

  const listed = (await daemon.http('GET', '/vms?limit=10')).body.items.find((item: any) => item.name === 'svc1');
  t.match(byName(listed).web, { state: 'running', up: true }, 'lists show the last answer without asking the guest');

  // A service killed in the guest is seen as exited without a status.
  const killed = await execIn(daemon, 'svc1', { command: ['sh', '-c', 'kill -9 $(cat /run/banger/services/sleeper.pid) && echo gone'] });
  t.equal(killed.stdout.toString(), 'gone\n');
  // A GET within a second of the last question reuses its answer.
  const after = await pollUntil(
    'the killed service seen as exited',
    async () => {
      const seen = byName((await daemon.http('GET', '/vms/svc1')).body);
      return seen.sleeper.state === 'exited' ? seen : undefined;
    },
    10_000,
    250,
  );
  t.match(after.sleeper, { state: 'exited', up: false, exitStatus: null });

  const cli = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, [bangerBin, '--socket', daemon.socketPath, 'vm', 'show', 'svc1'], { timeout: 60_000 }, (error, stdout) => (error ? reject(error) : resolve(stdout))),
  );
  t.match(cli.replace(/\s+/g, ' '), 'services: web:9000 up, sleeper exited (killed), crash exited (status 3)', 'banger vm show says which services are up');

  // Stopped: nothing is known; started again: the services start afresh and the reason is gone.
  await runVmJob(daemon, 'POST', '/vms/svc1/stop');
  const stopped = byName((await daemon.http('GET', '/vms/svc1')).body);
  t.match(stopped.web, { state: 'unknown', up: false });
  await runVmJob(daemon, 'POST', '/vms/svc1/start');
  const restarted = (await daemon.http('GET', '/vms/svc1')).body;
  t.match(byName(restarted).sleeper, { state: 'running', up: true }, 'a new boot starts every service again');
  t.equal(await probeHttp(hostPortOf(restarted, 9000)), 200);
  await runVmJob(daemon, 'DELETE', '/vms/svc1');
});

t.test('a service that exits before its port opens fails the create at once, with its log', async (t) => {
  const built = await build({ name: 'svc-broken', recipe: 'busybox', services: [{ name: 'api', port: 9100, command: 'echo "api: cannot bind, giving up" >&2; exit 5' }] });
  t.equal(built.status, 'succeeded', built.error?.detail);
  const started = Date.now();
  const accepted = await postVm(daemon, { name: 'broken1', image: 'svc-broken', memoryMiB: 256, workDiskSize: '256M' });
  const job = await waitForJob(daemon, accepted.body.id, vmJobTimeoutMs);
  const tookMs = Date.now() - started;
  t.equal(job.status, 'failed');
  t.equal(job.error?.code, 'service-exited');
  t.match(job.error?.detail, /service api exited with status 5.*\n.*api: cannot bind, giving up/s, 'the problem carries the end of its log');
  t.ok(tookMs < 80_000, `failed in ${tookMs} ms, before the 90 s port timeout`);
  const vm = (await daemon.http('GET', '/vms/broken1')).body;
  t.match(vm, { state: 'failed', stateReason: { code: 'service_exited' } });
  await daemon.http('DELETE', '/vms/broken1');
  await pollUntil('broken1 gone', async () => ((await daemon.http('GET', '/vms/broken1')).status === 404 ? true : undefined), 60_000, 250);
  t.same(vmsDirEntries(daemon.stateDir).filter((entry) => !entry.endsWith('.console.log')), [], 'nothing of it is left');
});
