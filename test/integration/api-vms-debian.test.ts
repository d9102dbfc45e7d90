// One Debian VM (the debian-bookworm recipe: sshd on 22) created through the API and reached over
// SSH with the daemon's key, by plain ssh and through `banger vm ssh`; then snapshotted and restored
// as a clone that answers SSH with its own hostname and host keys. Minutes: a Debian bootstrap
// and a TCG boot of systemd. BANGER_TEST_SKIP_DEBIAN=1 skips it.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { isAlive } from '../helpers/api.js';
import { bangerBin, waitForJob } from '../helpers/daemon.js';
import { createRunningVm, runVmJob, startVmDaemon, vmsDirEntries, waitGone } from '../helpers/vms.js';
import { execIn, execThenHangUp } from '../helpers/exec.js';
import type { TestDaemon } from '../helpers/daemon.js';
import { createHash } from 'node:crypto';

if (process.env.BANGER_TEST_SKIP_DEBIAN === '1') {
  t.plan(0, 'skipped: BANGER_TEST_SKIP_DEBIAN=1');
} else {
  t.setTimeout(20 * 60 * 1000);

  const run = (command: string, args: string[], env: NodeJS.ProcessEnv = process.env) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
      execFile(command, args, { env, timeout: 120_000 }, (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') return reject(error);
        resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
      });
    });

  t.test('a Debian VM answers SSH with the daemon key', async (t) => {
    const daemon = await startVmDaemon(t, { env: { BANGER_VM_PORT_TIMEOUT_SECONDS: '180' } });
    const build = await daemon.http('POST', '/images/builds', { name: 'deb', recipe: 'debian-bookworm' });
    t.equal(build.status, 202, build.text);
    const built = await waitForJob(daemon, build.body.id, 15 * 60_000);
    t.equal(built.status, 'succeeded', built.error?.detail);
    if (built.status !== 'succeeded') return;

    const { vm, job } = await createRunningVm(daemon, { name: 'deb1', image: 'deb', cpus: 2, memoryMiB: 512, ports: [22], workDiskSize: '2G' });
    t.comment(`Debian POST → running: ${job.stages.map((s: any) => `${s.name} ${s.durationMs}`).join(', ')}`);
    t.match(vm.ports, [{ guestPort: 22, wait: true }], 'SSH is published and was waited for');

    const ssh = vm.ssh;
    const base = ['-i', ssh.privateKeyPath, '-p', String(ssh.port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', `${ssh.user}@${ssh.host}`];
    const uname = await run('ssh', [...base, 'uname', '-a']);
    t.equal(uname.code, 0, uname.stderr);
    t.match(uname.stdout, /^Linux \S+ \S+-cloud-amd64 /, 'a shell in the guest');
    const key = await run('ssh', [...base, 'cat', '/root/.ssh/authorized_keys']);
    t.equal(key.stdout.trim(), readFileSync(join(daemon.stateDir, 'ssh', 'id_ed25519.pub'), 'utf8').trim(), "the work disk carries the daemon's key");
    const df = await run('ssh', [...base, 'df', '-B1', '--output=source,size', '/root']);
    const [source, size] = df.stdout.trim().split('\n').at(-1)?.trim().split(/\s+/) ?? [];
    t.equal(source, '/dev/vdb', '/root is the work disk');
    t.ok(Number(size) > 1.8 * 1024 ** 3, `grown to the requested 2G (${size} bytes)`);

    const env = { ...process.env };
    for (const name of ['BANGER_URL', 'BANGER_TOKEN', 'BANGER_STATE_DIR']) delete env[name];
    const cli = await run(process.execPath, [bangerBin, '--socket', daemon.socketPath, 'vm', 'ssh', 'deb1', '--', 'cat', '/etc/os-release'], env);
    t.equal(cli.code, 0, cli.stderr);
    t.match(cli.stdout, /Debian GNU\/Linux 12/, 'banger vm ssh runs the command');

    await checkExec(t, daemon, 'deb1', env);

    // A snapshot restores to SSH with the daemon's key, and the clone has host keys of its own.
    const hostKey = async (port: number) => (await run('ssh-keyscan', ['-t', 'ed25519', '-p', String(port), '127.0.0.1'])).stdout.trim().split(/\s+/).at(-1) ?? '';
    const sourceKey = await hostKey(ssh.port);
    t.ok(sourceKey.length > 40, 'the source serves an ed25519 host key');
    const snapshotJob = await runVmJob(daemon, 'POST', '/vms/deb1/snapshots', { name: 'deb-ready' });
    t.comment(`Debian snapshot: ${(snapshotJob.result.snapshot.sizeBytes / 1048576).toFixed(0)} MiB, ${snapshotJob.stages.map((s: any) => `${s.name} ${s.durationMs ?? '-'}`).join(', ')}`);
    const { vm: clone, job: restoreJob } = await createRunningVm(daemon, { name: 'deb-clone', snapshot: 'deb-ready', ports: [22] });
    t.comment(`Debian restore → running: ${restoreJob.stages.map((s: any) => `${s.name} ${s.durationMs}`).join(', ')}`);
    t.equal(clone.bootMode, 'warm');
    const cloneBase = [...base.slice(0, 2), '-p', String(clone.ssh.port), ...base.slice(4)];
    const hostname = await run('ssh', [...cloneBase, 'hostname']);
    t.equal(hostname.code, 0, hostname.stderr);
    t.equal(hostname.stdout.trim(), 'deb-clone', "the clone answers SSH with the daemon's key, under its own hostname");
    const cloneKey = await hostKey(clone.ssh.port);
    t.ok(cloneKey.length > 40, 'the clone serves an ed25519 host key');
    t.not(cloneKey, sourceKey, 'a host key of its own, not the source’s');
    t.equal(await hostKey(ssh.port), sourceKey, 'the source keeps its key');
    const cloneExec = await execIn(daemon, 'deb-clone', { command: ['hostname'] });
    t.equal(cloneExec.stdout.toString(), 'deb-clone\n', 'exec reaches a restored clone, over the port its snapshot carried');

    for (const name of ['deb-clone', 'deb1']) await runVmJob(daemon, 'DELETE', `/vms/${name}`);
    t.equal((await daemon.http('DELETE', '/snapshots/deb-ready')).status, 200);
    await waitGone(vm.pid);
    t.notOk(isAlive(vm.pid));
    t.same(vmsDirEntries(daemon.stateDir), []);
  });
}

/** POST /vms/{vm}/exec and banger vm exec against a running Debian guest. */
async function checkExec(t: Test, daemon: TestDaemon, vm: string, env: NodeJS.ProcessEnv): Promise<void> {
  const sh = (script: string, extra: Record<string, unknown> = {}) => execIn(daemon, vm, { command: ['sh', '-c', script], ...extra });
  const ok = await sh('echo out; echo err >&2');
  t.equal(ok.status, 200);
  t.equal(ok.events[0]?.type, 'started', 'the stream starts with the exec id');
  t.equal(ok.stdout.toString(), 'out\n');
  t.equal(ok.stderr.toString(), 'err\n', 'stderr apart from stdout');
  t.match(ok.exit, { type: 'exit', exitCode: 0, signal: null, timedOut: false });
  for (const code of [1, 137]) t.equal((await sh(`exit ${code}`)).exit.exitCode, code, `exit code ${code}`);
  t.match((await sh('kill -TERM $$')).exit, { exitCode: null, signal: 'TERM' }, 'a signal is reported as one');

  const text = 'line one\nzwei ✓\n';
  t.equal((await execIn(daemon, vm, { command: ['cat'], stdin: text })).stdout.toString(), text, 'stdin round trip');
  const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const binary = await execIn(daemon, vm, { command: ['cat'], stdinBase64: bytes.toString('base64') });
  t.same(binary.stdout, bytes, 'every byte value survives, in and out');
  t.ok(binary.events.some((event) => event.encoding === 'base64'), 'bytes that are not UTF-8 travel as base64');
  const big = await sh('head -c 20000000 /dev/zero | tr "\\0" x; head -c 3000000 /dev/urandom | sha256sum >&2');
  t.equal(big.stdout.length, 20_000_000, '20 MB of output streamed whole');
  t.equal(createHash('sha256').update(big.stdout).digest('hex'), createHash('sha256').update(Buffer.alloc(20_000_000, 'x')).digest('hex'));

  const where = await execIn(daemon, vm, { command: ['sh', '-c', 'echo "$GREETING" "$(pwd)" "$(id -un)"'], env: { GREETING: "it's" }, cwd: '/tmp', user: 'nobody' });
  t.equal(where.stdout.toString(), "it's /tmp nobody\n", 'env, cwd and user');
  t.equal((await execIn(daemon, vm, { command: ['printf', '%s|', 'a b', '$HOME', ';true'] })).stdout.toString(), 'a b|$HOME|;true|', 'arguments are words, never shell code');
  t.equal((await execIn(daemon, vm, { command: ['no-such-program'] })).exit.exitCode, 127);

  const concurrent = await Promise.all(Array.from({ length: 8 }, (_, i) => sh(`sleep 1; echo ${i}`)));
  t.same(concurrent.map((result) => result.stdout.toString()), Array.from({ length: 8 }, (_, i) => `${i}\n`), '8 execs at once on one VM');

  const timedOut = await sh('sleep 300 & sleep 300', { timeoutSeconds: 2 });
  t.match(timedOut.exit, { timedOut: true, exitCode: null, signal: 'KILL' }, 'a timeout kills it');
  t.ok(timedOut.exit.durationMs < 60_000, `and ends the stream (${timedOut.exit.durationMs} ms)`);
  await execThenHangUp(daemon, vm, { command: ['sh', '-c', 'echo started; sleep 400 & sleep 400'] });
  let left = '';
  for (let i = 0; i < 30; i++) {
    left = (await sh('ps -eo args | grep "^sleep [34]00" || true')).stdout.toString();
    if (left === '') break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  t.equal(left, '', 'a client that hangs up kills the program and what it started; so did the timeout');

  const problems: Array<[unknown, number, string]> = [
    [{ command: [] }, 422, 'validation-failed'],
    [{ command: ['-x'] }, 422, 'validation-failed'],
    [{ command: ['true'], cwd: 'relative' }, 422, 'validation-failed'],
    [{ command: ['true'], env: { 'BAD NAME': '1' } }, 422, 'validation-failed'],
  ];
  for (const [body, status, code] of problems) {
    const res = await execIn(daemon, vm, body);
    t.equal(res.status, status, JSON.stringify(body));
    t.equal(res.problem?.code, code);
  }
  const missing = await execIn(daemon, 'no-such-vm', { command: ['true'] });
  t.equal(missing.status, 404);

  const cli = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [bangerBin, '--socket', daemon.socketPath, 'vm', 'exec', vm, ...args], { env }, (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
      });
    });
  const viaCli = await cli(['-e', 'X=1', '--', 'sh', '-c', 'echo "x=$X"; echo warn >&2; exit 3']);
  t.equal(viaCli.code, 3, 'banger vm exec exits with the program’s status');
  t.equal(viaCli.stdout, 'x=1\n');
  t.equal(viaCli.stderr, 'warn\n');
  t.equal((await cli(['--', 'sh', '-c', 'kill -KILL $$'])).code, 137, 'a signal N exits 128+N');
}
