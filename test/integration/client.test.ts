import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { request } from 'undici';
import { createClient, DaemonUnreachableError, ProblemError, WaitTimeoutError, type BangerClient, type Job, type JobEvent } from '../../client/index.js';
import { makeTempDir, startDaemon, type TestDaemon, tcpUrlOf } from '../helpers/daemon.js';
import { makeExt4Image, makeKernelFile } from '../helpers/ext4.js';

interface ImageFiles {
  rootfs: string;
  workSeed: string;
  kernel: string;
  packages: string;
}

async function imageFiles(dir: string): Promise<ImageFiles> {
  const packages = join(dir, 'packages.txt');
  await writeFile(packages, 'curl\nvim\n');
  return {
    rootfs: makeExt4Image(join(dir, 'rootfs.ext4'), '32M'),
    workSeed: makeExt4Image(join(dir, 'seed.ext4'), '32M'),
    kernel: makeKernelFile(dir),
    packages,
  };
}

function clientFor(t: Test, daemon: TestDaemon): BangerClient {
  const client = createClient({ socketPath: daemon.socketPath });
  t.teardown(() => client.close());
  return client;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

/** The names of the stages as they start running, in the order the events report them. */
function stagesStarted(events: JobEvent[]): string[] {
  const started: string[] = [];
  for (const event of events) {
    for (const stage of event.job.stages) {
      if (stage.status === 'running' && !started.includes(stage.name)) started.push(stage.name);
    }
  }
  return started;
}


t.test('over the unix socket', async (t) => {
  const daemon = await startDaemon(t);
  const client = clientFor(t, daemon);
  const dir = await makeTempDir(t);
  const files = await imageFiles(dir);

  t.match(await client.health(), { status: 'ok', reasons: [] });
  t.match(await client.version(), { version: String, node: process.version });
  t.match(await client.metrics(), /^banger_http_requests_total\{method="GET",route="\/healthz",status="200"\} 1$/m, 'the metrics text, with the health check just made');

  t.test('register creates, then updates', async (t) => {
    const first = await client.registerImage({ name: 'alpha', rootfsPath: files.rootfs, kernelPath: files.kernel });
    t.equal(first.created, true, '201: created');
    t.equal(first.image.managed, false);
    t.equal(first.image.docker, false, 'docker may be left out');
    const again = await client.registerImage({ name: 'alpha', rootfsPath: files.rootfs, kernelPath: files.kernel, docker: true });
    t.equal(again.created, false, '200: updated');
    t.equal(again.image.id, first.image.id, 'same image');
    t.equal(again.image.docker, true);
  });

  t.test('an idempotency key replays the first answer', async (t) => {
    const body = { name: 'gamma', rootfsPath: files.rootfs, kernelPath: files.kernel };
    const key = randomBytes(8).toString('hex');
    const first = await client.registerImage(body, { idempotencyKey: key });
    const replay = await client.registerImage(body, { idempotencyKey: key });
    t.equal(first.created, true);
    t.equal(replay.created, true, 'the replay is the stored 201');
    t.equal(replay.image.updatedAt, first.image.updatedAt, 'not registered twice');
  });

  t.test('list pages through every image', async (t) => {
    await client.registerImage({ name: 'beta', rootfsPath: files.rootfs, kernelPath: files.kernel });
    const first = await client.listImages({ limit: 1 });
    t.equal(first.items.length, 1);
    t.equal(first.items[0]?.name, 'alpha', 'ordered by name');
    t.type(first.nextCursor, 'string', 'another page follows');
    const names = first.items.map((image) => image.name);
    let cursor = first.nextCursor;
    while (cursor !== null) {
      const page = await client.listImages({ limit: 1, cursor });
      names.push(...page.items.map((image) => image.name));
      cursor = page.nextCursor;
    }
    t.same(names, ['alpha', 'beta', 'gamma']);
    t.equal((await client.listImages()).nextCursor, null, 'the default page holds them all');
  });

  t.test('get by name or id', async (t) => {
    const byName = await client.getImage('alpha');
    t.equal(byName.name, 'alpha');
    t.same(await client.getImage(byName.id), byName);
  });

  t.test('promote, following the stages with waitJob', async (t) => {
    await client.registerImage({
      name: 'full',
      rootfsPath: files.rootfs,
      kernelPath: files.kernel,
      workSeedPath: files.workSeed,
      packagesPath: files.packages,
    });
    const job = await client.promoteImage('full');
    t.equal(job.kind, 'image.promote');
    t.match(job.status, /^(queued|running)$/);

    const events: JobEvent[] = [];
    const finished = await client.waitJob(job.id, { onEvent: (event) => events.push(event), timeoutMs: 60_000 });
    t.equal(finished.status, 'succeeded');
    t.same(stagesStarted(events), ['copy_rootfs', 'copy_work_seed', 'seed_ssh_key', 'write_metadata', 'activate_artifacts']);
    t.ok(events.every((event, i) => i === 0 || event.id > (events[i - 1] as JobEvent).id), 'ids increase');
    t.equal(events.at(-1)?.type, 'status', 'the last event is the final status');
    t.ok(finished.stages.every((stage) => stage.status === 'succeeded'));
    t.match(finished.result, { image: { name: 'full', managed: true } });
    t.equal((await client.getImage('full')).managed, true);

    t.test('jobEvents replays the finished job, and resumes after lastEventId', async (t) => {
      const all: JobEvent[] = [];
      for await (const event of client.jobEvents(job.id)) all.push(event);
      t.same(all.map((event) => event.id), events.map((event) => event.id), 'the whole history, then the stream ends');
      const middle = all[2]?.id as number;
      const rest: JobEvent[] = [];
      for await (const event of client.jobEvents(job.id, { lastEventId: middle })) rest.push(event);
      t.same(rest.map((event) => event.id), all.slice(3).map((event) => event.id));
      t.same(rest.map((event) => event.type), all.slice(3).map((event) => event.type));
    });

    t.test('waitJob on a finished job returns it at once', async (t) => {
      const again = await client.waitJob(job.id);
      t.equal(again.status, 'succeeded');
    });

    t.test('listJobs filters', async (t) => {
      const list = await client.listJobs({ kind: 'image.promote', status: 'succeeded' });
      t.ok(list.items.some((item) => item.id === job.id));
      t.same((await client.listJobs({ status: 'failed' })).items, []);
    });
  });

  t.test('deleteImage returns the deleted image; then it is gone', async (t) => {
    const deleted = await client.deleteImage('beta');
    t.equal(deleted.name, 'beta');
    const error = await rejection(client.getImage('beta'));
    t.ok(error instanceof ProblemError);
    if (!(error instanceof ProblemError)) return;
    t.equal(error.status, 404);
    t.equal(error.code, 'image-not-found');
    t.equal(error.message, error.problem.detail, 'the message is the detail');
    t.match(error.problem, { type: 'urn:banger:problem:image-not-found', title: String, status: 404, hint: String });
  });

  t.test('a 422 carries the field errors', async (t) => {
    const invalid = await rejection(client.registerImage({ name: '-bad', rootfsPath: files.rootfs }));
    t.ok(invalid instanceof ProblemError);
    if (!(invalid instanceof ProblemError)) return;
    t.equal(invalid.status, 422);
    t.equal(invalid.code, 'validation-failed');
    t.match(invalid.problem.errors, [{ field: 'body.name', message: String }]);

    const missing = await rejection(client.registerImage({ name: 'ghost', rootfsPath: join(dir, 'nope.ext4'), kernelPath: files.kernel }));
    t.ok(missing instanceof ProblemError);
    if (!(missing instanceof ProblemError)) return;
    t.equal(missing.code, 'preflight-failed');
    t.match(missing.problem.errors, [{ field: 'rootfsPath', message: /does not exist/, hint: String }]);
  });

  t.test('promoting a managed image is a 409 with a hint', async (t) => {
    const error = await rejection(client.promoteImage('full'));
    t.ok(error instanceof ProblemError);
    t.match(error, { status: 409, code: 'image-already-managed', problem: { hint: String } });
  });

  t.test('unknown jobs are 404 problems, for the stream too', async (t) => {
    t.match(await rejection(client.getJob('0000000000000000')), { status: 404, code: 'job-not-found' });
    t.match(await rejection(client.waitJob('0000000000000000')), { status: 404, code: 'job-not-found' });
  });
});

t.test('a missing socket says the daemon is not running and how to start it', async (t) => {
  const dir = await makeTempDir(t);
  const socketPath = join(dir, 'banger.sock');
  const client = createClient({ socketPath });
  t.teardown(() => client.close());
  const error = await rejection(client.health());
  t.ok(error instanceof DaemonUnreachableError);
  t.match((error as Error).message, `not running at ${socketPath}`);
  t.match((error as Error).message, /banger serve.*npm start/);
});

t.test('createClient needs exactly one of socketPath and baseUrl', async (t) => {
  t.throws(() => createClient({}), TypeError);
  t.throws(() => createClient({ socketPath: '/tmp/x.sock', baseUrl: 'http://127.0.0.1:1' }), TypeError);
});

t.test('queued jobs: timeouts, cancellation, and a daemon crash while waiting', async (t) => {
  // With no job slots, a job stays queued until cancelled or the daemon goes away.
  const daemon = await startDaemon(t, { env: { BANGER_MAX_CONCURRENT_JOBS: '0' } });
  const client = clientFor(t, daemon);
  const files = await imageFiles(await makeTempDir(t));
  await client.registerImage({ name: 'stuck', rootfsPath: files.rootfs, kernelPath: files.kernel });
  await client.registerImage({ name: 'crash', rootfsPath: files.rootfs, kernelPath: files.kernel });

  const stuck = await client.promoteImage('stuck');
  const timedOut = await rejection(client.waitJob(stuck.id, { timeoutMs: 500 }));
  t.ok(timedOut instanceof WaitTimeoutError, 'timeoutMs gives up without touching the job');
  t.equal((await client.getJob(stuck.id)).status, 'queued');

  const controller = new AbortController();
  const aborted = rejection(client.waitJob(stuck.id, { signal: controller.signal }));
  controller.abort(new Error('stop watching'));
  t.match(await aborted, { message: 'stop watching' }, 'the caller\'s abort reason comes back');

  const cancelled = await client.cancelJob(stuck.id);
  t.equal(cancelled.status, 'cancelled');
  t.match(await rejection(client.cancelJob(stuck.id)), { status: 409, code: 'job-finished' });

  const job = await client.promoteImage('crash');
  const events: JobEvent[] = [];
  const waiting = client.waitJob(job.id, { onEvent: (event) => events.push(event), timeoutMs: 60_000 });
  while (events.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
  await daemon.crash();
  // Restarted over the same state, the daemon fails the job it lost; the waiter reconnects and sees that.
  const restarted = await startDaemon(t, { stateDir: daemon.stateDir });
  const finished: Job = await waiting;
  t.equal(finished.status, 'failed');
  t.equal(finished.error?.code, 'interrupted');
  t.equal(events.at(-1)?.job.status, 'failed', 'the events missed while down were replayed');
  t.ok(events.every((event, i) => i === 0 || event.id > (events[i - 1] as JobEvent).id), 'no event twice');
  await restarted.stop();
});

t.test('over TCP with a bearer token', async (t) => {
  const token = randomBytes(16).toString('hex');
  // Port 0: the daemon picks a free port and logs the URL it got.
  const daemon = await startDaemon(t, { args: ['--listen', '127.0.0.1:0', '--token', token] });
  const baseUrl = await tcpUrlOf(daemon);

  const client = createClient({ baseUrl, token });
  t.teardown(() => client.close());
  t.match(await client.health(), { status: 'ok', reasons: [] });
  t.same((await client.listImages()).items, []);
  // Over TCP the client asks for compressed JSON: a page over 1 KiB comes as br, and reads the same.
  const files = await imageFiles(await makeTempDir(t));
  const names = ['tcp-a', 'tcp-b', 'tcp-c', 'tcp-d'];
  // Registered over the socket: over TCP a client may not name the daemon's files.
  const local = clientFor(t, daemon);
  for (const name of names) await local.registerImage({ name, rootfsPath: files.rootfs, kernelPath: files.kernel });
  t.same((await client.listImages()).items.map((image) => image.name), names, 'a compressed page, read');
  const raw = await request(`${baseUrl}/images`, { headers: { authorization: `Bearer ${token}`, 'accept-encoding': 'br, gzip' } });
  t.equal(raw.headers['content-encoding'], 'br', 'the page the client got was compressed');
  await raw.body.dump();

  const intruder = createClient({ baseUrl, token: randomBytes(16).toString('hex') });
  t.teardown(() => intruder.close());
  const error = await rejection(intruder.listImages());
  t.ok(error instanceof ProblemError);
  t.match(error, { status: 401, code: 'unauthorized', problem: { hint: String } });

  const anonymous = createClient({ baseUrl });
  t.teardown(() => anonymous.close());
  t.match(await rejection(anonymous.health()), { status: 401, code: 'unauthorized' });
});
