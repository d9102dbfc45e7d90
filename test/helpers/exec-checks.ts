// What exec must do on every kind of guest, checked against a running VM: the Debian test runs
// it over OpenSSH, the busybox test over dropbear.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { Test } from 'tap';
import { bangerBin, type TestDaemon } from './daemon.js';
import { execIn, execThenHangUp } from './exec.js';

export interface ExecCheckOptions {
  server: 'openssh' | 'dropbear';
  /** The environment `banger vm exec` runs in (without BANGER_URL and the like). */
  cliEnv: NodeJS.ProcessEnv;
}

/** POST /vms/{vm}/exec and banger vm exec against a running guest. */
export async function checkExec(t: Test, daemon: TestDaemon, vm: string, options: ExecCheckOptions): Promise<void> {
  const sh = (script: string, extra: Record<string, unknown> = {}) => execIn(daemon, vm, { command: ['sh', '-c', script], ...extra });
  const ok = await sh('echo out; echo err >&2');
  t.equal(ok.status, 200, JSON.stringify(ok.problem));
  t.equal(ok.events[0]?.type, 'started', 'the stream starts with the exec id');
  t.equal(ok.stdout.toString(), 'out\n');
  t.equal(ok.stderr.toString(), 'err\n', 'stderr apart from stdout');
  t.match(ok.exit, { type: 'exit', exitCode: 0, signal: null, timedOut: false });
  for (const code of [1, 137]) t.equal((await sh(`exit ${code}`)).exit.exitCode, code, `exit code ${code}`);
  t.match((await sh('kill -TERM $$')).exit, { exitCode: null, signal: 'TERM' }, 'a signal is reported as one');
  const group = await sh('read -r stat </proc/$$/stat; set -- ${stat##*) }; echo "$$ $3"');
  const [pid, pgid] = group.stdout.toString().trim().split(' ');
  t.equal(pgid, pid, 'the program leads a process group of its own, which a kill reaches whole');

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
    // The pattern's brackets keep this shell's own command line from matching it.
    left = (await sh('cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\\0" " " | grep -o "sleep [34]00" || true')).stdout.toString();
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
  const keyed = () => daemon.http('POST', `/vms/${vm}/exec`, { command: ['echo', 'again'] }, { 'idempotency-key': `exec-${vm}` });
  const [first, second] = [await keyed(), await keyed()];
  t.same([first.status, second.status, second.text.includes('"again'), second.headers['idempotent-replayed']], [200, 200, true, undefined], 'an Idempotency-Key neither replays a stream nor sticks as in flight');
  const missing = await execIn(daemon, 'no-such-vm', { command: ['true'] });
  t.equal(missing.status, 404);

  const cli = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [bangerBin, '--socket', daemon.socketPath, 'vm', 'exec', vm, ...args], { env: options.cliEnv }, (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
      });
    });
  const viaCli = await cli(['-e', 'X=1', '--', 'sh', '-c', 'echo "x=$X"; echo warn >&2; exit 3']);
  t.equal(viaCli.code, 3, 'banger vm exec exits with the program’s status');
  t.equal(viaCli.stdout, 'x=1\n');
  t.equal(viaCli.stderr, 'warn\n');
  t.equal((await cli(['--', 'sh', '-c', 'kill -KILL $$'])).code, 137, 'a signal N exits 128+N');

  if (options.server === 'dropbear') await checkDropbearLimits(t, daemon, vm);
}

/** dropbear takes shorter command lines and fewer channels than OpenSSH; both limits are told, not hit. */
async function checkDropbearLimits(t: Test, daemon: TestDaemon, vm: string): Promise<void> {
  const fits = await execIn(daemon, vm, { command: ['sh', '-c', 'echo ${#1}', 'sh', 'a'.repeat(8000)] });
  t.equal(fits.stdout.toString(), '8000\n', 'an 8000-byte argument fits dropbear');
  const tooLong = await execIn(daemon, vm, { command: ['echo', 'a'.repeat(9000)] });
  t.equal(tooLong.status, 422);
  t.match(tooLong.problem?.errors?.[0]?.message, /9000 bytes on this guest \(its SSH server is dropbear\)/, 'a longer one is refused up front, naming the limit');

  const limit = 48;
  const sleepers = Array.from({ length: limit }, () => execIn(daemon, vm, { command: ['sleep', '8'] }));
  // Each exec counts from the moment it is accepted; wait until all are.
  let over = await execIn(daemon, vm, { command: ['true'] });
  for (let i = 0; i < 40 && over.status === 200; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    over = await execIn(daemon, vm, { command: ['true'] });
  }
  t.equal(over.status, 429, `the ${limit + 1}th command at once is refused`);
  t.equal(over.problem?.code, 'guest-exec-limit');
  const settled = await Promise.all(sleepers);
  t.same(
    settled.map((result) => result.exit?.exitCode),
    Array.from({ length: limit }, () => 0),
    `the ${limit} that run all end well`,
  );
  t.equal((await execIn(daemon, vm, { command: ['true'] })).exit?.exitCode, 0, 'and the next one runs again');
}
