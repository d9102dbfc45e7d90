// Crash and shutdown: kill -9 in the middle of a promote and restart on the same state dir; SIGTERM
// with and without a running job; a second daemon started on a state dir that is in use.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import t, { type Test } from 'tap';
import {
  GiB,
  imagesDirEntries,
  isAlive,
  makeFilledFile,
  openEventStream,
  processesMentioning,
  stagingDirs,
  waitForCopyProcess,
  waitForStage,
} from '../helpers/api.js';
import { bangerBin, makeTempDir, startDaemon, waitForJob, type TestDaemon } from '../helpers/daemon.js';
import { makeKernelFile, stampExt4Magic } from '../helpers/ext4.js';

const files = await makeTempDir(t, 'banger-crash-');
const kernel = makeKernelFile(files);
mkdirSync(join(files, 'bulky'));
// Lots of real data, so that the copy is still running when the daemon goes down.
const bulky = stampExt4Magic(await makeFilledFile(join(files, 'bulky', 'bulky.img'), 1.5 * GiB));

async function register(daemon: TestDaemon, name: string): Promise<any> {
  const res = await daemon.http('POST', '/images', { name, rootfsPath: bulky, kernelPath: kernel });
  if (res.status !== 201) throw new Error(`POST /images: ${res.status} ${res.text}`);
  return res.body;
}

/** Starts a promote and returns once its cp is copying the rootfs. */
async function promoteUntilCopying(daemon: TestDaemon, image: any) {
  const res = await daemon.http('POST', `/images/${image.id}/promote`);
  if (res.status !== 202) throw new Error(`promote: ${res.status} ${res.text}`);
  const job = res.body;
  await waitForStage(daemon, job.id, 'copy_rootfs', 'running');
  const cp = await waitForCopyProcess(daemon, image.id, job.id);
  return { job, cp, staging: `${image.id}.promote-${job.id}` };
}

function assertNoStageRunning(t: Test, job: any): void {
  t.same(
    job.stages.filter((s: any) => s.status === 'running').map((s: any) => s.name),
    [],
    `a ${job.status} job shows no stage still running (stages: ${JSON.stringify(job.stages.map((s: any) => [s.name, s.status]))})`,
  );
}

t.test('kill -9 in the middle of a promote, then restart on the same state dir', async (t) => {
  const first = await startDaemon(t);
  const { stateDir } = first;
  const image = await register(first, 'crashy');
  const { job, cp, staging } = await promoteUntilCopying(first, image);

  await first.crash();
  t.ok(existsSync(join(stateDir, 'images', staging)), 'the crash leaves a half-written staging dir behind');
  t.ok(existsSync(first.socketPath), 'and a stale socket file');
  t.comment(isAlive(cp.pid) ? `cp ${cp.pid} outlived the daemon` : `cp ${cp.pid} ended before the restart`);

  const second = await startDaemon(t, { stateDir });
  t.pass('the restart clears the stale socket and listens');
  const after = (await second.http('GET', `/jobs/${job.id}`)).body;
  t.equal(after.status, 'failed', 'the job is failed');
  t.equal(after.error?.code, 'interrupted', 'error.code interrupted');
  t.equal(after.error?.status, 500);
  t.match(after.error?.detail, /daemon stopped/);
  t.ok(after.error?.hint, 'with a hint');
  t.ok(after.finishedAt, 'finishedAt set');
  assertNoStageRunning(t, after);

  t.same(stagingDirs(stateDir), [], 'no *.promote-* staging dir remains');
  t.notOk(imagesDirEntries(stateDir).includes(image.id), 'no artifact dir');
  t.notOk(isAlive(cp.pid), `the orphaned cp ${cp.pid} was killed`);
  t.same(processesMentioning(staging, 'cp'), [], 'no cp still writing into the staging dir');
  t.same((await second.http('GET', '/images/crashy')).body, image, 'the image is still unmanaged and unchanged');
  t.match(second.output(), /job interrupted by a daemon restart/, 'the restart logs the interrupted job');

  const events = await openEventStream(second, job.id);
  await events.ended;
  t.equal(events.events.at(-1)?.data.status, 'failed', 'the event stream of the interrupted job ends with failed');

  const retry = await second.http('POST', '/images/crashy/promote');
  t.equal(retry.status, 202, 'the image can be promoted again');
  const retried = await waitForJob(second, retry.body.id);
  t.equal(retried.status, 'succeeded', JSON.stringify(retried.error));
  const promoted = (await second.http('GET', '/images/crashy')).body;
  t.equal(promoted.managed, true);
  t.equal(statSync(promoted.rootfsPath).size, 1.5 * GiB);
  t.same(imagesDirEntries(stateDir), [image.id], 'only the new artifact dir');
  t.equal((await second.http('DELETE', '/images/crashy')).status, 200, 'free the copy');
  t.equal(await second.stop(), 0);
});

t.test('SIGTERM during a promote: clean exit, job interrupted, partial work removed', async (t) => {
  const daemon = await startDaemon(t);
  const { stateDir, socketPath } = daemon;
  const image = await register(daemon, 'graceful');
  const { job, cp, staging } = await promoteUntilCopying(daemon, image);

  t.equal(await daemon.stop(), 0, 'SIGTERM exits 0');
  t.notOk(existsSync(socketPath), 'the socket file is removed');
  t.match(daemon.output(), /banger stopped/);
  t.same(stagingDirs(stateDir), [], 'the staging dir is removed before exit');
  t.notOk(isAlive(cp.pid), `cp ${cp.pid} was stopped`);
  t.same(processesMentioning(staging, 'cp'), []);

  const again = await startDaemon(t, { stateDir });
  const after = (await again.http('GET', `/jobs/${job.id}`)).body;
  t.equal(after.status, 'failed');
  t.equal(after.error?.code, 'interrupted');
  t.match(after.error?.detail, /shut down/);
  assertNoStageRunning(t, after);
  t.equal(after.stages[0].status, 'failed', 'copy_rootfs is marked failed');
  t.same((await again.http('GET', '/images/graceful')).body, image, 'the image is unchanged');
  t.notMatch(again.output(), /job interrupted by a daemon restart/, 'nothing was left for recovery');

  t.equal(await again.stop(), 0, 'an idle daemon stops with 0 too');
  t.notOk(existsSync(socketPath), 'and removes its socket');
  const third = await startDaemon(t, { stateDir });
  t.equal((await third.http('GET', '/healthz')).body.status, 'ok', 'a later start on the same state dir works');
  t.same((await third.http('GET', '/images')).body.items.map((i: any) => i.name), ['graceful'], 'the catalogue survived');
  t.equal(await third.stop(), 0);
});

t.test('a second daemon on a state dir in use is refused and disturbs nothing', async (t) => {
  const daemon = await startDaemon(t);
  const image = await register(daemon, 'busy');
  const { job, cp, staging } = await promoteUntilCopying(daemon, image);

  const intruder = spawn(process.execPath, [bangerBin, 'serve', '--state-dir', daemon.stateDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let intruderOutput = '';
  intruder.stdout.on('data', (chunk) => (intruderOutput += chunk));
  intruder.stderr.on('data', (chunk) => (intruderOutput += chunk));
  const code = await new Promise<number | null>((resolve) => intruder.once('exit', resolve));
  t.not(code, 0, 'the second daemon exits non-zero');
  t.match(intruderOutput, /already (listening|running)|in use|locked/i, 'saying another daemon owns the state');

  // The copy may finish while the intruder starts up; what matters is that it was never disturbed.
  const now = (await daemon.http('GET', `/jobs/${job.id}`)).body;
  t.ok(['running', 'succeeded'].includes(now.status), `the running job is untouched (${now.status} ${JSON.stringify(now.error)})`);
  if (now.status === 'running') {
    t.ok(isAlive(cp.pid), 'its cp is still copying');
    t.ok(stagingDirs(daemon.stateDir).includes(staging), 'its staging dir is still there');
  }

  const cancelled = await daemon.http('POST', `/jobs/${job.id}/cancel`);
  t.ok([200, 409].includes(cancelled.status), 'cleanup: cancel the copy');
  const end = await waitForJob(daemon, job.id);
  t.ok(['cancelled', 'succeeded'].includes(end.status), `ends ${end.status}`);
  t.same(stagingDirs(daemon.stateDir), []);
  t.equal(await daemon.stop(), 0, 'the first daemon still stops cleanly');
});

t.test('SIGTERM with a request whose body never comes: the daemon stops after its grace, not never', async (t) => {
  const daemon = await startDaemon(t);
  // Headers promise 100 bytes of JSON; 10 come, then nothing. The request stays under way.
  const client = connect(daemon.socketPath);
  t.teardown(() => client.destroy());
  await new Promise<void>((resolve, reject) => client.once('connect', resolve).once('error', reject));
  client.write('POST /images HTTP/1.1\r\nHost: banger\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name":"x');
  await new Promise((resolve) => setTimeout(resolve, 500));
  const cutOff = new Promise<void>((resolve) => client.once('close', () => resolve()));

  const started = Date.now();
  t.equal(await daemon.stop(), 0, 'SIGTERM exits 0');
  const seconds = (Date.now() - started) / 1000;
  t.ok(seconds >= 9 && seconds < 30, `it waited for the request's grace (10 s) and no longer: ${seconds.toFixed(1)} s`);
  await cutOff;
  t.match(daemon.output(), /requests still unanswered after the grace period were cut off/);
  t.match(daemon.output(), /banger stopped/);
});
