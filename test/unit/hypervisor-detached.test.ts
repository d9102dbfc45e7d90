import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { isProcessAlive, isSameProcess, spawnDetached, SpawnDetachedError, waitForExit } from '../../server/host/detached.js';
import { readProcStat } from '../../server/host/proc.js';
import { killProcessGroup } from '../../server/host/runner.js';

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'banger-detached-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test('a detached process runs in its own session with output in files', async (t) => {
  const dir = await tempDir(t);
  const out = join(dir, 'out.log');
  const err = join(dir, 'err.log');
  const child = await spawnDetached('sh', ['-c', 'echo to-stdout; echo to-stderr >&2; exec sleep 60'], { cwd: dir, stdoutPath: out, stderrPath: err });
  t.teardown(() => killProcessGroup(child.pid, child.startTime, 'SIGKILL'));

  const stat = readProcStat(child.pid);
  t.equal(stat?.session, child.pid, 'session leader (setsid)');
  t.equal(stat?.processGroup, child.pid, 'process group leader');
  t.not(stat?.session, readProcStat(process.pid)?.session, 'not in the test runner session');
  t.ok(isSameProcess(child.pid, child.startTime));
  t.ok(isProcessAlive(child.pid, child.startTime));
  t.notOk(isSameProcess(child.pid, `${child.startTime}1`), 'another start time is another process');

  // The shell writes before it execs sleep; give it a moment.
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && !readFileSync(err, 'utf8').includes('to-stderr')) await new Promise((resolve) => setTimeout(resolve, 20));
  t.equal(readFileSync(out, 'utf8'), 'to-stdout\n');
  t.equal(readFileSync(err, 'utf8'), 'to-stderr\n');

  t.equal(await waitForExit(child.pid, child.startTime, 100), false, 'still running');
  t.ok(killProcessGroup(child.pid, child.startTime, 'SIGKILL'));
  t.equal(await waitForExit(child.pid, child.startTime, 5000), true, 'gone (or a zombie) after SIGKILL');
  t.notOk(isProcessAlive(child.pid, child.startTime));
});

t.test('stdout and stderr may share one file', async (t) => {
  const dir = await tempDir(t);
  const log = join(dir, 'both.log');
  const child = await spawnDetached('sh', ['-c', 'echo one; echo two >&2'], { stdoutPath: log, stderrPath: log });
  t.ok(await waitForExit(child.pid, child.startTime, 5000));
  t.equal(readFileSync(log, 'utf8'), 'one\ntwo\n');
});

t.test('a missing binary is named in the error', async (t) => {
  const dir = await tempDir(t);
  const error = await spawnDetached('banger-no-such-binary', [], { stdoutPath: join(dir, 'o'), stderrPath: join(dir, 'e') }).catch((e: unknown) => e);
  t.ok(error instanceof SpawnDetachedError && error.reason === 'not-found', String(error));
  t.match((error as Error).message, /banger-no-such-binary: command not found/);
  t.ok(existsSync(join(dir, 'e')), 'log files are created before the spawn');

  const noCwd = await spawnDetached('sh', ['-c', 'true'], { cwd: join(dir, 'missing'), stdoutPath: join(dir, 'o'), stderrPath: join(dir, 'e') }).catch((e: unknown) => e);
  t.ok(noCwd instanceof SpawnDetachedError && noCwd.reason === 'spawn', String(noCwd));
  t.match((noCwd as Error).message, /working directory .*missing does not exist/);
});

t.test('identity of processes that do not exist', async (t) => {
  t.equal(readProcStat(0), null);
  t.equal(readProcStat(-5), null);
  t.notOk(isSameProcess(2 ** 22 + 1, '1'));
  t.equal(await waitForExit(2 ** 22 + 1, '1', 1000), true);
});
