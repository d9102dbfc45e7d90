// One Debian VM (the debian-bookworm recipe: sshd on 22) created through the API and reached over
// SSH with the daemon's key, by plain ssh and through `banger vm ssh`; then snapshotted and restored
// as a clone that answers SSH with its own hostname and host keys. Minutes: a Debian bootstrap
// and a TCG boot of systemd. The image declares a service (a systemd unit), which both the VM
// and its clone serve. BANGER_TEST_SKIP_DEBIAN=1 skips it.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { isAlive } from '../helpers/api.js';
import { bangerBin, waitForJob } from '../helpers/daemon.js';
import { createRunningVm, runVmJob, startVmDaemon, vmsDirEntries, waitGone } from '../helpers/vms.js';
import { execIn } from '../helpers/exec.js';
import { checkExec } from '../helpers/exec-checks.js';
import { checkFiles } from '../helpers/file-checks.js';

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

  // perl-base is in every Debian image; IO::Socket::INET with it.
  const greeter = {
    name: 'greeter',
    port: 7000,
    user: 'nobody',
    command: `exec perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(LocalPort => 7000, Listen => 5, ReuseAddr => 1) or die "listen: $!"; while ($c = $s->accept) { print $c "hello from $ENV{USER}\\n"; close $c }'`,
  };
  const greet = (vm: any) =>
    new Promise<string>((resolve, reject) => {
      const port = vm.ports.find((entry: any) => entry.guestPort === 7000).hostPort;
      const socket = connect(port, '127.0.0.1');
      let text = '';
      socket.setTimeout(30_000, () => socket.destroy(new Error('no greeting within 30 s')));
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('end', () => resolve(text.trim()));
      socket.on('error', reject);
    });

  t.test('a Debian VM answers SSH with the daemon key', async (t) => {
    const daemon = await startVmDaemon(t, { env: { BANGER_VM_PORT_TIMEOUT_SECONDS: '180' } });
    const build = await daemon.http('POST', '/images/builds', { name: 'deb', recipe: 'debian-bookworm', services: [greeter] });
    t.equal(build.status, 202, build.text);
    const built = await waitForJob(daemon, build.body.id, 15 * 60_000);
    t.equal(built.status, 'succeeded', built.error?.detail);
    if (built.status !== 'succeeded') return;

    const { vm, job } = await createRunningVm(daemon, { name: 'deb1', image: 'deb', cpus: 2, memoryMiB: 512, ports: [22], workDiskSize: '2G' });
    t.comment(`Debian POST → running: ${job.stages.map((s: any) => `${s.name} ${s.durationMs}`).join(', ')}`);
    t.match(vm.ports, [{ guestPort: 22, wait: true }, { guestPort: 7000, wait: true }], "SSH and the service's port are published and were waited for");
    t.match(vm.services, [{ name: 'greeter', port: 7000, state: 'running', up: true }], 'the systemd unit runs the service');
    t.equal(await greet(vm), 'hello from nobody', 'the service answers through its port, as its user');
    const unit = await execIn(daemon, 'deb1', { command: ['systemctl', 'is-active', 'banger-service-greeter.service'] });
    t.equal(unit.stdout.toString().trim(), 'active');

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

    await checkExec(t, daemon, 'deb1', { server: 'openssh', cliEnv: env });
    await checkFiles(t, daemon, 'deb1', { bigFileBytes: 256 * 1024 * 1024, cliEnv: env });

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
    t.match(clone.services, [{ name: 'greeter', state: 'running', up: true }], 'the clone serves what its snapshot was serving');
    t.equal(await greet(clone), 'hello from nobody');

    for (const name of ['deb-clone', 'deb1']) await runVmJob(daemon, 'DELETE', `/vms/${name}`);
    t.equal((await daemon.http('DELETE', '/snapshots/deb-ready')).status, 200);
    await waitGone(vm.pid);
    t.notOk(isAlive(vm.pid));
    t.same(vmsDirEntries(daemon.stateDir), []);
  });
}
