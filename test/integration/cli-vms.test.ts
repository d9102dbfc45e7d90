// `banger vm …` against the real daemon and real guests: create with live stages and how to connect,
// ls/show/console, ssh (through a stand-in ssh that records its arguments: the busybox guest has no
// sshd), restart, stop, start --no-wait, rm by label; usage errors; banger run.
import { execFile, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { isAlive } from '../helpers/api.js';
import { bangerBin, makeTempDir } from '../helpers/daemon.js';
import { buildBusybox, hostPortOf, probeHttp, startVmDaemon, vmsDirEntries, waitGone } from '../helpers/vms.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const daemon = await startVmDaemon(t);
await buildBusybox(daemon, 'bb');
const bin = await makeTempDir(t, 'banger-cli-vms-');

/** This environment without what would aim the CLI at another daemon. */
function cliEnv(): NodeJS.ProcessEnv {
  const base = { ...process.env };
  for (const name of ['BANGER_URL', 'BANGER_TOKEN', 'BANGER_SOCKET', 'BANGER_STATE_DIR']) delete base[name];
  return base;
}

/** The built CLI on the test daemon's socket, never aimed elsewhere by the environment. */
function banger(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [bangerBin, '--socket', daemon.socketPath, ...args], { env: { ...cliEnv(), ...env }, timeout: 240_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
    });
  });
}

const stageLines = (stdout: string) => stdout.split('\n').filter((line) => /^[✓–✗] /.test(line));

t.test('vm create prints its stages and how to connect', async (t) => {
  const run = await banger(['vm', 'create', 'web', '--image', 'bb', '--port', '8080', '--label', 'suite=cli', '--ttl', '1h', '--memory', '256']);
  t.equal(run.code, 0, run.stderr);
  t.same(
    stageLines(run.stdout).map((line) => line.split(/\s+/)[1]),
    ['validate', 'clone_disks', 'seed_work_disk', 'allocate_network', 'spawn', 'kernel_boot', 'agent_ready', 'ports_ready', 'running'],
  );
  t.ok(stageLines(run.stdout).every((line) => /^✓ \w+ +\d+\.\ds$/.test(line)), 'every stage succeeded, with its time');
  const vm = (await daemon.http('GET', '/vms/web')).body;
  t.match(run.stdout, new RegExp(`vm web is running .*qemu/(tcg|kvm), pid ${vm.pid}`));
  t.match(run.stdout, '  ssh:   banger vm ssh web');
  t.match(run.stdout, vm.ssh.command);
  t.match(run.stdout, `  port 8080: 127.0.0.1:${hostPortOf(vm, 8080)}`);
  t.match(run.stdout, /deleted at .* \(ttl\)/);
  t.equal(vm.ttlSeconds, 3600, '--ttl 1h');
  t.equal(vm.memoryMiB, 256);
  t.same(vm.labels, { suite: 'cli' });
  t.equal(await probeHttp(hostPortOf(vm, 8080)), 200);
});

t.test('vm ls, show and console', async (t) => {
  const ls = await banger(['vm', 'ls']);
  t.equal(ls.code, 0, ls.stderr);
  t.match(ls.stdout, /^NAME +ID +STATE +IMAGE +CPUS +MEMORY +PORTS +CREATED$/m);
  t.match(ls.stdout, /^web +[0-9a-f]{16} +running +bb +1 +256M +22→\d+,8080→\d+ /m);
  t.match((await banger(['vm', 'ls', '--label', 'suite=other'])).stdout, /^no VMs/);
  const json = JSON.parse((await banger(['vm', 'ls', '--state', 'running', '--json'])).stdout);
  t.same(json.map((vm: any) => vm.name), ['web']);
  t.equal((await banger(['vm', 'ls', '--state', 'sleeping'])).code, 2, 'an unknown state is a usage error');

  const show = await banger(['vm', 'show', 'web']);
  t.equal(show.code, 0, show.stderr);
  for (const label of ['name', 'id', 'state', 'image', 'resources', 'hypervisor', 'ports', 'ssh', 'labels', 'expires', 'timings', 'dir', 'console']) {
    t.match(show.stdout, new RegExp(`^${label}: `, 'm'), `show has ${label}`);
  }
  t.match(show.stdout, /^timings: +validate .*total \d+\.\ds$/m);

  const consoleRun = await banger(['vm', 'console', 'web', '--tail', '3']);
  t.equal(consoleRun.code, 0);
  t.ok(consoleRun.stdout.length > 0 && consoleRun.stdout.split('\n').filter(Boolean).length <= 3, 'the last lines of the console');
});

t.test("vm ssh runs ssh with the daemon's key on the published port", async (t) => {
  const record = join(bin, 'ssh-args');
  writeFileSync(join(bin, 'ssh'), `#!/bin/sh\nprintf '%s\\n' "$@" > '${record}'\nexit 7\n`);
  chmodSync(join(bin, 'ssh'), 0o755);
  const run = await banger(['vm', 'ssh', 'web', '--', 'uname', '-a'], { PATH: `${bin}:${process.env.PATH}` });
  t.equal(run.code, 7, "the exit code is ssh's");
  const vm = (await daemon.http('GET', '/vms/web')).body;
  const args = readFileSync(record, 'utf8').trim().split('\n');
  t.same(args.slice(0, 4), ['-i', join(daemon.stateDir, 'ssh', 'id_ed25519'), '-p', String(hostPortOf(vm, 22))]);
  t.ok(args.includes('StrictHostKeyChecking=no') && args.includes('UserKnownHostsFile=/dev/null'), 'no host key prompts');
  t.same(args.slice(-3), ['root@127.0.0.1', 'uname', '-a'], 'user, host and the command last');
});

t.test('vm restart, stop, start --no-wait', async (t) => {
  const before = (await daemon.http('GET', '/vms/web')).body;
  const restart = await banger(['vm', 'restart', 'web', '--grace', '0']);
  t.equal(restart.code, 0, restart.stderr);
  t.same(stageLines(restart.stdout).map((line) => line.split(/\s+/)[1]), ['stop_hypervisor', 'validate', 'spawn', 'kernel_boot', 'agent_ready', 'ports_ready', 'running']);
  const after = (await daemon.http('GET', '/vms/web')).body;
  t.equal(after.state, 'running');
  t.not(after.pid, before.pid, 'a new hypervisor');
  await waitGone(before.pid);

  const stop = await banger(['vm', 'stop', 'web', '--grace', '0']);
  t.equal(stop.code, 0, stop.stderr);
  t.equal((await daemon.http('GET', '/vms/web')).body.state, 'stopped');
  const ssh = await banger(['vm', 'ssh', 'web']);
  t.equal(ssh.code, 1);
  t.match(ssh.stderr, /error: VM web is stopped; only a running VM can be reached \(banger vm start web\)/);

  const start = await banger(['vm', 'start', 'web', '--no-wait']);
  t.equal(start.code, 0, start.stderr);
  const jobId = start.stdout.trim();
  t.match(jobId, /^[0-9a-f]{16}$/, 'prints the job id');
  const wait = await banger(['job', 'wait', jobId]);
  t.equal(wait.code, 0, wait.stderr);
  t.equal((await daemon.http('GET', '/vms/web')).body.state, 'running');
});

t.test('vm rm by label; usage and daemon errors', async (t) => {
  const pid = (await daemon.http('GET', '/vms/web')).body.pid;
  const rm = await banger(['vm', 'rm', '--label', 'suite=cli']);
  t.equal(rm.code, 0, rm.stderr);
  t.same(stageLines(rm.stdout).map((line) => line.split(/\s+/).slice(1, 3).join(' ')), ['delete web']);
  await waitGone(pid);
  t.notOk(isAlive(pid));
  t.same(vmsDirEntries(daemon.stateDir), []);
  t.match((await banger(['vm', 'ls'])).stdout, /^no VMs/);

  const noImage = await banger(['vm', 'create', 'x']);
  t.equal(noImage.code, 2, 'a missing --image is a usage error');
  t.match(noImage.stderr, '--image');
  const badTtl = await banger(['vm', 'create', 'x', '--image', 'bb', '--ttl', '5 fortnights']);
  t.equal(badTtl.code, 2);
  t.match(badTtl.stderr, /--ttl expects a duration/);
  const badLabel = await banger(['vm', 'create', 'x', '--image', 'bb', '--label', 'novalue']);
  t.equal(badLabel.code, 2);
  t.equal((await banger(['vm', 'rm'])).code, 2, 'rm needs names or --label');
  const unknown = await banger(['vm', 'create', 'x', '--image', 'nope']);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /^error: No image with id or name "nope"$/m);
  t.match(unknown.stderr, /^hint: /m);
  const missing = await banger(['vm', 'rm', 'ghost']);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /No VM with id or name "ghost"/);
});

t.test('banger run: a fresh VM per command, copies in and out, the command’s status, nothing left', async (t) => {
  const work = await makeTempDir(t, 'banger-cli-run-');
  const source = join(work, 'src');
  mkdirSync(source);
  writeFileSync(join(source, 'build.sh'), 'echo building; mkdir -p out; echo artifact > out/result.txt; echo oops >&2; exit 3\n');
  const run = await banger([
    'run', '--image', 'bb', '--memory', '256', '--label', 'suite=run',
    '--copy', `${source}:/root/src`, '-w', '/root/src', '-e', 'CI=1',
    '--artifact', `/root/src/out:${join(work, 'out')}`, '--artifact', `/root/missing:${join(work, 'missing')}`,
    '--', 'sh', 'build.sh',
  ]);
  t.equal(run.code, 3, 'exits with the command’s status');
  t.equal(run.stdout, 'building\n', 'the command’s stdout, as it wrote it');
  t.match(run.stderr, /oops/, 'and its stderr');
  t.match(run.stderr, /banger: creating VM run-[0-9a-f]{6} from image bb\n/);
  t.match(run.stderr, /banger: copied .*src to \/root\/src/);
  t.equal(readFileSync(join(work, 'out', 'result.txt'), 'utf8'), 'artifact\n', 'artifacts come out even when the command failed');
  t.match(run.stderr, /artifact \/root\/missing not copied: \/root\/missing does not exist/, 'a missing artifact is told, not fatal');
  t.same((await daemon.http('GET', '/vms?label=banger-run=true')).body.items, [], 'the VM is gone');

  const bad = await banger(['run', '--image', 'no-such-image', '--', 'true']);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /No image with id or name "no-such-image"/);
  const usage = await banger(['run', '--image', 'bb', '--copy', 'relative-only', '--', 'true']);
  t.equal(usage.code, 2);
  t.match(usage.stderr, /--copy expects LOCAL:\/guest\/path/);

  // Ctrl-C while the command runs: it is killed, the VM deleted, and banger run exits 130.
  const child = spawn(process.execPath, [bangerBin, '--socket', daemon.socketPath, 'run', '--image', 'bb', '--memory', '256', '--', 'sh', '-c', 'echo started; sleep 300'], {
    env: cliEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    if (output.includes('started')) child.kill('SIGINT');
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
  t.equal(code, 130, 'Ctrl-C exits 130');
  t.same((await daemon.http('GET', '/vms?label=banger-run=true')).body.items, [], 'and leaves no VM');
  t.same(vmsDirEntries(daemon.stateDir).length, (await daemon.http('GET', '/vms')).body.items.length, 'nor its files');
});
