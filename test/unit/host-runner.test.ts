import { readFileSync } from 'node:fs';
import { chmod, copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { capToolDeadlines, killProcessGroup, processStartTime, run, RunError } from '../../server/host/runner.js';

/** Whether pid names a live (non-zombie) process; zombies may linger where pid 1 does not reap. */
function alive(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  const state = stat.slice(stat.lastIndexOf(')') + 1).trim().split(/\s+/)[0];
  return state !== 'Z' && state !== 'X';
}

async function waitUntilGone(pid: number, ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!alive(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return !alive(pid);
}

async function runError(promise: Promise<unknown>): Promise<RunError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RunError) return error;
    throw error;
  }
  throw new Error('expected the command to fail');
}

t.test('success returns full stdout and exit code', async (t) => {
  const big = 'x'.repeat(100_000);
  const result = await run('sh', ['-c', 'printf "%s" "$1"; echo oops >&2', 'sh', big]);
  t.equal(result.exitCode, 0);
  t.equal(result.stdout, big, 'stdout is not truncated in results');
  t.equal(result.stderr, 'oops\n');
});

t.test('arguments are passed verbatim, without a shell', async (t) => {
  const tricky = ['$HOME', 'a b', "'q'", '; rm -rf /', '*'];
  const result = await run('printf', ['%s\\n', ...tricky]);
  t.same(result.stdout.split('\n').slice(0, -1), tricky);
});

t.test('input, cwd, env and log', async (t) => {
  const logged: string[] = [];
  const result = await run('sh', ['-c', 'cat; pwd; echo "$BANGER_T" >&2'], {
    input: 'from-stdin\n',
    cwd: '/tmp',
    env: { ...process.env, BANGER_T: 'env-ok' },
    log: { write: (chunk) => logged.push(chunk.toString()) },
  });
  t.equal(result.stdout, 'from-stdin\n/tmp\n');
  t.equal(result.stderr, 'env-ok\n');
  t.match(logged.join(''), /from-stdin/);
  t.match(logged.join(''), /env-ok/);
});

t.test('non-zero exit rejects with RunError carrying stderr', async (t) => {
  const error = await runError(run('sh', ['-c', 'echo partial; echo first >&2; echo "real problem" >&2; exit 3']));
  t.equal(error.reason, 'exit');
  t.equal(error.exitCode, 3);
  t.equal(error.signal, null);
  t.equal(error.command, 'sh');
  t.match(error.stderr, /real problem/);
  t.equal(error.stdout, 'partial\n');
  t.equal(error.message, 'sh exited with code 3: real problem');
});

t.test('allowExitCodes turns selected codes into success', async (t) => {
  const result = await run('sh', ['-c', 'echo ok; exit 1'], { allowExitCodes: [1] });
  t.equal(result.exitCode, 1);
  t.equal(result.stdout, 'ok\n');
});

t.test('RunError keeps only a tail of stderr', async (t) => {
  const error = await runError(run('sh', ['-c', 'head -c 100000 /dev/zero | tr "\\0" a >&2; echo >&2; echo END >&2; exit 1']));
  t.ok(error.stderr.length <= 8 * 1024, `stderr tail is ${error.stderr.length} chars`);
  t.match(error.stderr, /a\nEND\n$/);
  t.equal(error.message, 'sh exited with code 1: END');

  const oneLine = await runError(run('sh', ['-c', 'head -c 100000 /dev/zero | tr "\\0" b >&2; exit 1']));
  t.ok(oneLine.message.length < 400, 'a huge last line is shortened in the message');
});

t.test('timeout kills the whole process group', async (t) => {
  let leader = 0;
  const started = Date.now();
  const error = await runError(
    run('sh', ['-c', 'sleep 30 & echo $!; sleep 30'], {
      timeoutMs: 300,
      onSpawn: (pid) => {
        leader = pid;
      },
    }),
  );
  t.equal(error.reason, 'timeout');
  t.equal(error.message, 'sh timed out after 300ms; its process group was killed');
  t.ok(Date.now() - started < 5000, 'settles promptly');
  const grandchild = Number(error.stdout.trim());
  t.ok(grandchild > 1, `grandchild pid ${grandchild} was reported`);
  t.ok(await waitUntilGone(grandchild), 'background grandchild is gone');
  t.ok(await waitUntilGone(leader), 'leader is gone');
});

t.test("the operator's cap shortens every deadline, the unlimited ones too", async (t) => {
  capToolDeadlines({ ms: 200, setting: 'BANGER_TOOL_TIMEOUT_SECONDS' });
  t.teardown(() => capToolDeadlines(null));
  for (const timeoutMs of [60_000, 0, Infinity]) {
    const error = await runError(run('sleep', ['30'], { timeoutMs }));
    t.equal(error.message, 'sleep timed out after 200ms (the BANGER_TOOL_TIMEOUT_SECONDS limit); its process group was killed', `asked for ${timeoutMs}`);
  }
  const shorter = await runError(run('sleep', ['30'], { timeoutMs: 100 }));
  t.equal(shorter.message, 'sleep timed out after 100ms; its process group was killed', 'a shorter deadline of its own stands');
  t.equal((await run('true', [], { timeoutMs: 0 })).exitCode, 0, 'a tool that finishes in time is untouched');
});

t.test('processes ignoring SIGTERM get SIGKILL after the grace period', async (t) => {
  const started = Date.now();
  const error = await runError(
    run('sh', ['-c', 'trap "" TERM; sleep 30 & echo $!; wait'], { timeoutMs: 200, killGraceMs: 300 }),
  );
  t.equal(error.reason, 'timeout');
  t.ok(Date.now() - started < 5000, 'settles after SIGKILL');
  const grandchild = Number(error.stdout.trim());
  t.ok(await waitUntilGone(grandchild), 'grandchild ignoring SIGTERM is gone');
});

t.test('abort via AbortController', async (t) => {
  const controller = new AbortController();
  let pid = 0;
  const promise = run('sleep', ['30'], {
    signal: controller.signal,
    onSpawn: (p) => {
      pid = p;
    },
  });
  setTimeout(() => controller.abort(new Error('user cancelled')), 100);
  const error = await runError(promise);
  t.equal(error.reason, 'aborted');
  t.equal(error.message, 'sleep was cancelled');
  t.ok(pid > 0);
  t.ok(await waitUntilGone(pid));
});

t.test('already-aborted signal rejects without spawning', async (t) => {
  let spawned = false;
  const error = await runError(
    run('sleep', ['30'], {
      signal: AbortSignal.abort(),
      onSpawn: () => {
        spawned = true;
      },
    }),
  );
  t.equal(error.reason, 'aborted');
  t.notOk(spawned);
});

t.test('missing binary rejects with reason spawn', async (t) => {
  const error = await runError(run('banger-no-such-binary', ['x']));
  t.equal(error.reason, 'spawn');
  t.equal(error.exitCode, null);
  t.match(error.message, /banger-no-such-binary/);
});

t.test('a child that exits while a descendant keeps stdout open still resolves', async (t) => {
  const started = Date.now();
  const result = await run('sh', ['-c', 'sleep 20 & echo $!']);
  t.ok(Date.now() - started < 5000, `resolved after ${Date.now() - started}ms`);
  const background = Number(result.stdout.trim());
  t.ok(background > 1);
  t.ok(killProcessGroup(background, processStartTime(background) as string), 'background sleep cleaned up');
});

t.test('processStartTime', async (t) => {
  const own = processStartTime(process.pid);
  t.match(own, /^\d+$/);
  t.equal(processStartTime(process.pid), own, 'stable for the same process');
  t.equal(processStartTime(99_999_999), null);
  t.equal(processStartTime(0), null);
  t.equal(processStartTime(-5), null);

  let pid = 0;
  await run('true', [], {
    onSpawn: (p) => {
      pid = p;
    },
  });
  t.ok(await waitUntilGone(pid));
  t.equal(processStartTime(pid), null, 'exited (and reaped) child has no start time');
});

t.test('processStartTime parses comm containing spaces and parentheses', async (t) => {
  // exec -a does not change comm, so copy sleep under a hostile name.
  const dir = await mkdtemp(join(tmpdir(), 'banger-runner-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const weird = join(dir, 'a) b (c');
  await copyFile('/bin/sleep', weird);
  await chmod(weird, 0o755);

  let pid = 0;
  const promise = run(weird, ['30'], {
    onSpawn: (p) => {
      pid = p;
    },
  }).catch((error: unknown) => error);
  while (pid === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  t.match(stat, /\(a\) b \(c\)/, 'comm really contains ") "');
  const expected = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  t.equal(processStartTime(pid), expected);
  t.ok(killProcessGroup(pid, expected));
  const error = await promise;
  t.ok(error instanceof RunError && error.signal === 'SIGKILL');
});

t.test('killProcessGroup checks identity before signalling', async (t) => {
  let pid = 0;
  const promise = run('sh', ['-c', 'sleep 30 & echo $!; wait'], {
    onSpawn: (p) => {
      pid = p;
    },
  });
  while (pid === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  const startTime = processStartTime(pid);
  t.ok(startTime);

  t.equal(killProcessGroup(pid, `${startTime}1`), false, 'different start time: not signalled');
  t.ok(alive(pid));
  t.equal(killProcessGroup(99_999_999, startTime as string), false, 'missing process: not signalled');
  t.equal(killProcessGroup(1, processStartTime(1) as string), false, 'never signals pid 1 / all processes');
  t.equal(killProcessGroup(0, startTime as string), false);

  t.equal(killProcessGroup(pid, startTime as string), true);
  const error = await runError(promise);
  t.equal(error.reason, 'exit');
  t.equal(error.signal, 'SIGKILL');
  t.match(error.message, /killed by SIGKILL/);
  const grandchild = Number(error.stdout.trim());
  t.ok(await waitUntilGone(grandchild), 'whole group received the signal');
  t.equal(killProcessGroup(pid, startTime as string), false, 'gone: no ESRCH thrown, just false');
});
