// Jobs over the real daemon: image promotion with real ext4 files, stages, long-poll, the SSE
// event stream, filters and pages, cancellation of a running copy, busy targets, idempotency keys.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import {
  assertProblem,
  debugfs,
  GiB,
  imagesDirEntries,
  isAlive,
  makeFilledFile,
  MiB,
  openEventStream,
  parseSse,
  processesMentioning,
  sha256,
  sshFingerprint,
  stagingDirs,
  waitForCopyProcess,
} from '../helpers/api.js';
import { makeTempDir, startDaemon, waitForJob } from '../helpers/daemon.js';
import { makeExt4Image, makeKernelFile, stampExt4Magic } from '../helpers/ext4.js';

const promoteStages = ['copy_rootfs', 'copy_work_seed', 'seed_ssh_key', 'write_metadata', 'activate_artifacts'];
const finished = ['succeeded', 'failed', 'cancelled'];

const daemon = await startDaemon(t);
const files = await makeTempDir(t, 'banger-jobs-');
const kernel = makeKernelFile(files);
const publicKeyPath = join(daemon.stateDir, 'ssh', 'id_ed25519.pub');

function fixtureDir(name: string): string {
  const dir = join(files, name);
  mkdirSync(dir);
  return dir;
}

async function register(body: Record<string, unknown>): Promise<any> {
  const res = await daemon.http('POST', '/images', { kernelPath: kernel, ...body });
  if (res.status !== 201) throw new Error(`POST /images: ${res.status} ${res.text}`);
  return res.body;
}

async function promote(idOrName: string, headers: Record<string, string> = {}): Promise<any> {
  const res = await daemon.http('POST', `/images/${idOrName}/promote`, undefined, headers);
  if (res.status !== 202) throw new Error(`POST /images/${idOrName}/promote: ${res.status} ${res.text}`);
  return res;
}

// Filled in by the subtests, used by the later ones.
let sparseJob: any;
let sparseImage: any;
let bareJob: any;
let bulkyImage: any;
let cancelledJob: any;
let bulkyJob: any;

t.test('promote a sparse 4 GiB image with a work seed and a packages manifest', async (t) => {
  const dir = fixtureDir('sparse');
  const rootfs = makeExt4Image(join(dir, 'rootfs.ext4'), '4G');
  const workSeed = makeExt4Image(join(dir, 'work-seed.ext4'), '64M');
  const manifest = join(files, 'packages.txt');
  writeFileSync(manifest, 'b\na\n\n# a comment\nb\n  a  \n');
  const expectedPackagesSha = sha256('a\nb\n');

  sparseImage = await register({ name: 'sparse', rootfsPath: rootfs, packagesPath: manifest });
  t.equal(sparseImage.workSeedPath, workSeed, 'work seed found beside the rootfs');
  t.equal(sparseImage.packagesSha256, expectedPackagesSha, 'packagesSha256 is the sha256 of the sorted, deduplicated list');

  const started = await promote('sparse');
  const job = started.body;
  t.equal(started.headers.location, `/jobs/${job.id}`, 'Location: /jobs/{id}');
  t.equal(job.href, `/jobs/${job.id}`);
  t.equal(job.kind, 'image.promote');
  t.ok(['queued', 'running'].includes(job.status), `starts queued or running (${job.status})`);
  t.same(job.target, { type: 'image', id: sparseImage.id, name: 'sparse', href: `/images/${sparseImage.id}` });
  t.same(job.stages.map((s: any) => s.name), promoteStages, 'the planned stages, in order');
  t.equal(job.cancellable, true);
  t.equal(job.error, null);

  sparseJob = await waitForJob(daemon, job.id);
  t.equal(sparseJob.status, 'succeeded', JSON.stringify(sparseJob.error));
  t.equal(sparseJob.progress, 100);
  t.equal(sparseJob.error, null);
  t.ok(sparseJob.startedAt && sparseJob.finishedAt && sparseJob.startedAt <= sparseJob.finishedAt, 'job timestamps');
  for (const stage of sparseJob.stages) {
    t.equal(stage.status, 'succeeded', `${stage.name} succeeded`);
    t.ok(stage.startedAt && stage.finishedAt && stage.startedAt <= stage.finishedAt, `${stage.name} has startedAt and finishedAt`);
    t.equal(stage.durationMs, Date.parse(stage.finishedAt) - Date.parse(stage.startedAt), `${stage.name} durationMs`);
  }
  for (let i = 1; i < sparseJob.stages.length; i++) {
    t.ok(sparseJob.stages[i].startedAt >= sparseJob.stages[i - 1].finishedAt, `${sparseJob.stages[i].name} starts after the previous stage ends`);
  }
  const stage = (name: string) => sparseJob.stages.find((s: any) => s.name === name);

  const image = (await daemon.http('GET', '/images/sparse')).body;
  const artifactDir = join(daemon.stateDir, 'images', sparseImage.id);
  t.same(sparseJob.result, { image }, 'the job result is the promoted image');
  t.equal(image.managed, true);
  t.equal(image.artifactDir, artifactDir);
  t.equal(image.rootfsPath, join(artifactDir, 'rootfs.ext4'));
  t.equal(image.workSeedPath, join(artifactDir, 'work-seed.ext4'));
  t.equal(image.packagesSha256, expectedPackagesSha);
  t.equal(stage('copy_rootfs').detail, rootfs, 'copy_rootfs names its source');
  t.equal(stage('activate_artifacts').detail, artifactDir, 'activate_artifacts names the artifact dir');
  t.same(readdirSync(artifactDir).sort(), ['rootfs.ext4', 'rootfs.ext4.packages.sha256', 'work-seed.ext4']);

  const rootfsStat = statSync(image.rootfsPath);
  t.equal(rootfsStat.size, 4 * GiB, 'apparent size kept');
  t.ok(rootfsStat.blocks * 512 < 256 * MiB, `the copy stays sparse: ${rootfsStat.blocks * 512} bytes allocated of 4 GiB`);
  t.equal(readFileSync(join(artifactDir, 'rootfs.ext4.packages.sha256'), 'utf8'), `${expectedPackagesSha}\n`, 'packages metadata written');

  const publicKey = readFileSync(publicKeyPath, 'utf8').trim();
  const fingerprint = sshFingerprint(publicKeyPath);
  t.equal(image.seededSshPublicKeyFingerprint, fingerprint, "seededSshPublicKeyFingerprint is the daemon's key");
  t.equal(stage('seed_ssh_key').detail, fingerprint);
  const keys = debugfs(image.workSeedPath, 'cat /.ssh/authorized_keys');
  t.equal(keys.stdout, `${publicKey}\n`, "the work seed's /.ssh/authorized_keys holds the daemon's public key");
  const keyStat = debugfs(image.workSeedPath, 'stat /.ssh/authorized_keys').stdout;
  t.match(keyStat, /Mode:\s+0600\b/, 'authorized_keys is mode 0600');
  t.match(keyStat, /User:\s+0\s+Group:\s+0\b/, 'owned by root');
  t.match(debugfs(image.workSeedPath, 'stat /.ssh').stdout, /Mode:\s+0700\b/, '/.ssh is mode 0700');
  t.doesNotThrow(() => execFileSync('e2fsck', ['-f', '-n', image.workSeedPath], { stdio: 'pipe' }), 'the seeded work seed passes e2fsck');
  t.match(debugfs(workSeed, 'stat /.ssh').stderr, /File not found/, "the user's own work seed is not modified");

  t.same(stagingDirs(daemon.stateDir), [], 'no staging dir remains');
  t.same(imagesDirEntries(daemon.stateDir), [sparseImage.id], 'only the artifact dir');
});

t.test('an image without work seed or packages skips those stages', async (t) => {
  const dir = fixtureDir('bare');
  const image = await register({ name: 'bare', rootfsPath: makeExt4Image(join(dir, 'rootfs.ext4'), '32M') });
  t.equal(image.workSeedPath, null);
  bareJob = await waitForJob(daemon, (await promote('bare')).body.id);
  t.equal(bareJob.status, 'succeeded', JSON.stringify(bareJob.error));
  t.same(
    bareJob.stages.map((s: any) => [s.name, s.status]),
    [['copy_rootfs', 'succeeded'], ['copy_work_seed', 'skipped'], ['seed_ssh_key', 'skipped'], ['write_metadata', 'skipped'], ['activate_artifacts', 'succeeded']],
  );
  for (const skipped of bareJob.stages.filter((s: any) => s.status === 'skipped')) {
    t.ok(skipped.detail, `${skipped.name} says why it was skipped: ${skipped.detail}`);
    t.equal(skipped.startedAt, null);
  }
  t.equal(bareJob.progress, 100, 'skipped stages count as done');
  const promoted = (await daemon.http('GET', '/images/bare')).body;
  t.equal(promoted.managed, true);
  t.equal(promoted.workSeedPath, null);
  t.equal(promoted.seededSshPublicKeyFingerprint, null);
  t.same(readdirSync(promoted.artifactDir), ['rootfs.ext4'], 'no metadata file without a manifest');
});

t.test('GET /jobs/{id} with ?wait', async (t) => {
  const started = Date.now();
  const res = await daemon.http('GET', `/jobs/${sparseJob.id}?wait=5`);
  const elapsed = Date.now() - started;
  t.equal(res.status, 200);
  t.same(res.body, sparseJob, 'the finished job');
  t.ok(elapsed < 1000, `a finished job is answered at once (${elapsed} ms)`);
});

t.test('GET /jobs/{id}/events replays a finished job as server-sent events', async (t) => {
  const res = await daemon.http('GET', `/jobs/${sparseJob.id}/events`);
  t.equal(res.status, 200, 'the stream ends by itself after the final status');
  t.match(String(res.headers['content-type']), /^text\/event-stream/);
  t.equal(res.headers['cache-control'], 'no-cache');
  t.match(res.text, /^id: 1\nevent: status\ndata: \{/m, 'raw id:, event: and data: lines');
  const { events } = parseSse(res.text);
  t.same(events.map((e) => e.id), events.map((_, i) => i + 1), 'ids are 1, 2, 3, ...');
  t.ok(events.every((e) => e.event === 'status' || e.event === 'stage'), 'event is status or stage');
  t.ok(events.every((e) => e.data.id === sparseJob.id), 'data is the job');
  t.same(events.filter((e) => e.event === 'status').map((e) => e.data.status), ['queued', 'running', 'succeeded'], 'status events');
  const last = events[events.length - 1];
  t.equal(last?.event, 'status', 'the last event is the final status');
  t.same(last?.data, sparseJob, 'and carries the finished job');

  // The stage each stage event shows running, in order: every stage, once, as planned.
  const running = events
    .filter((e) => e.event === 'stage')
    .map((e) => e.data.stages.find((s: any) => s.status === 'running')?.name ?? null)
    .filter((name): name is string => name !== null);
  t.same(running, promoteStages, 'stage events follow the stages in order');
  const progress = events.map((e) => e.data.progress);
  t.same(progress, [...progress].sort((a, b) => a - b), 'progress never goes back');

  const after = await daemon.http('GET', `/jobs/${sparseJob.id}/events`, undefined, { 'last-event-id': '3' });
  const replayed = parseSse(after.text).events;
  t.same(replayed.map((e) => e.id), events.filter((e) => e.id > 3).map((e) => e.id), 'Last-Event-ID: 3 gets only the events after 3');
  t.same(replayed, events.slice(3), 'the same events');
  const byQuery = await daemon.http('GET', `/jobs/${sparseJob.id}/events?lastEventId=3`);
  t.same(parseSse(byQuery.text).events, events.slice(3), '?lastEventId=3 does the same');
  const none = await daemon.http('GET', `/jobs/${sparseJob.id}/events`, undefined, { 'last-event-id': String(last?.id) });
  t.equal(none.status, 200);
  t.same(parseSse(none.text).events, [], 'nothing after the last event, and the stream still ends');
});

t.test('cancel a running promote of an image full of real data', async (t) => {
  const dir = fixtureDir('bulky');
  const source = stampExt4Magic(await makeFilledFile(join(dir, 'bulky.img'), 1.5 * GiB));
  bulkyImage = await register({ name: 'bulky', rootfsPath: source });

  const job = (await promote('bulky')).body;
  const stream = await openEventStream(daemon, job.id);
  t.teardown(() => stream.close());
  t.equal(stream.status, 200);
  await stream.next((e) => e.data.stages.some((s: any) => s.name === 'copy_rootfs' && s.status === 'running'));
  const staging = `${bulkyImage.id}.promote-${job.id}`;
  const cp = await waitForCopyProcess(daemon, bulkyImage.id, job.id);
  t.ok(cp.argv.some((arg) => arg.includes(staging)), `cp ${cp.pid} is copying into ${staging}`);
  t.ok(stagingDirs(daemon.stateDir).includes(staging), 'the staging dir exists while copying');

  const res = await daemon.http('POST', `/jobs/${job.id}/cancel`);
  t.equal(res.status, 200, res.text);
  cancelledJob = res.body;
  t.equal(cancelledJob.status, 'cancelled', 'answers once the job has stopped');
  t.equal(cancelledJob.error?.code, 'cancelled');
  t.equal(cancelledJob.error?.type, 'urn:banger:problem:cancelled');
  t.ok(cancelledJob.error?.detail, 'the error has a detail');
  t.ok(cancelledJob.finishedAt, 'finishedAt set');
  t.same(cancelledJob.stages.map((s: any) => [s.name, s.status]), [['copy_rootfs', 'cancelled'], ...promoteStages.slice(1).map((name) => [name, 'pending'])]);
  t.ok(cancelledJob.stages[0].finishedAt, 'the interrupted stage has finishedAt');

  await stream.ended;
  const last = stream.events[stream.events.length - 1];
  t.equal(last?.event, 'status', 'the live stream ends with a status event');
  t.equal(last?.data.status, 'cancelled');
  t.same(stream.events.map((e) => e.id), stream.events.map((_, i) => i + 1), 'live event ids are consecutive');

  t.same(stagingDirs(daemon.stateDir), [], 'no staging dir left');
  t.notOk(existsSync(join(daemon.stateDir, 'images', bulkyImage.id)), 'no artifact dir');
  t.notOk(isAlive(cp.pid), `cp ${cp.pid} is gone`);
  t.same(processesMentioning(staging, 'cp'), [], 'no cp names the staging dir');
  const image = (await daemon.http('GET', '/images/bulky')).body;
  t.same(image, bulkyImage, 'the image is still unmanaged and unchanged');
  assertProblem(t, await daemon.http('POST', `/jobs/${job.id}/cancel`), { status: 409, code: 'job-finished', detail: /already cancelled/ });
});

t.test('a cancelled promote can run again; a second one while it runs is refused', async (t) => {
  const started = await promote('bulky');
  bulkyJob = started.body;
  const busy = await daemon.http('POST', '/images/bulky/promote');
  assertProblem(t, busy, { status: 409, code: 'resource-busy', detail: new RegExp(`busy with job ${bulkyJob.id}`) });
  t.match(busy.body.hint, new RegExp(`/jobs/${bulkyJob.id}`), 'the hint names the running job');
  const busyById = await daemon.http('POST', `/images/${bulkyImage.id}/promote`);
  assertProblem(t, busyById, { status: 409, code: 'resource-busy', detail: bulkyJob.id });
  assertProblem(t, await daemon.http('DELETE', '/images/bulky'), { status: 409, code: 'resource-busy', detail: bulkyJob.id });

  const before = Date.now();
  const polled = await daemon.http('GET', `/jobs/${bulkyJob.id}?wait=0.5`);
  const waited = Date.now() - before;
  t.ok(
    (polled.body.status === 'running' && waited >= 450) || polled.body.status === 'succeeded',
    `?wait=0.5 on a running job answers after the wait (${waited} ms, ${polled.body.status})`,
  );

  bulkyJob = await waitForJob(daemon, bulkyJob.id);
  t.equal(bulkyJob.status, 'succeeded', JSON.stringify(bulkyJob.error));
  const image = (await daemon.http('GET', '/images/bulky')).body;
  t.equal(image.managed, true, 'promoted after all');
  const copied = statSync(image.rootfsPath);
  t.equal(copied.size, 1.5 * GiB);
  t.ok(copied.blocks * 512 >= 1.5 * GiB, 'real data is copied, not turned into holes');
  t.same(stagingDirs(daemon.stateDir), []);
  t.same(processesMentioning(bulkyImage.id, 'cp'), [], 'no cp left');
  // Free the 1.5 GiB copy now rather than at the end of the file.
  t.equal((await daemon.http('DELETE', '/images/bulky')).status, 200);
  t.notOk(existsSync(image.artifactDir), 'the artifact dir is removed with the image');
});

t.test('Idempotency-Key replays the first response', async (t) => {
  const dir = fixtureDir('idem');
  const image = await register({ name: 'idem', rootfsPath: makeExt4Image(join(dir, 'rootfs.ext4'), '32M') });
  const key = 'promote-idem-0001';
  const first = await promote('idem', { 'idempotency-key': key });
  t.equal(first.headers['idempotent-replayed'], undefined, 'the first response is not a replay');
  const again = await daemon.http('POST', '/images/idem/promote', undefined, { 'idempotency-key': key });
  t.equal(again.status, 202);
  t.equal(again.headers['idempotent-replayed'], 'true');
  t.equal(again.body.id, first.body.id, 'the same job');
  t.equal(again.headers.location, first.headers.location, 'the same Location');
  const job = await waitForJob(daemon, first.body.id);
  t.equal(job.status, 'succeeded');

  const afterwards = await daemon.http('POST', '/images/idem/promote', undefined, { 'idempotency-key': key });
  t.equal(afterwards.status, 202, 'still the stored 202, not image-already-managed');
  t.equal(afterwards.body.id, first.body.id);
  const jobs = await daemon.http('GET', `/jobs?targetType=image&targetId=${image.id}`);
  t.same(jobs.body.items.map((j: any) => j.id), [first.body.id], 'only one job was ever started');

  // The replays of registrations and the other refusals run in-process in test/api/problems.test.ts.
  const reused = await daemon.http('POST', '/images', { name: 'other', rootfsPath: image.rootfsPath, kernelPath: kernel }, { 'idempotency-key': key });
  assertProblem(t, reused, { status: 422, code: 'idempotency-key-reused', detail: /POST \/images\/idem\/promote/ });
});

t.test('GET /jobs filters and pages', async (t) => {
  const all = (await daemon.http('GET', '/jobs?limit=500')).body;
  t.equal(all.nextCursor, null);
  const ids = all.items.map((j: any) => j.id);
  for (const job of [sparseJob, bareJob, cancelledJob, bulkyJob]) t.ok(ids.includes(job.id), `lists job ${job.id}`);
  const keys = all.items.map((j: any) => `${j.createdAt} ${j.id}`);
  t.same(keys, [...keys].sort().reverse(), 'newest first');

  const only = async (query: string) => (await daemon.http('GET', `/jobs?${query}`)).body.items as any[];
  const succeeded = await only('status=succeeded');
  t.ok(succeeded.length >= 4 && succeeded.every((j) => j.status === 'succeeded'), 'status=succeeded');
  t.same((await only('status=cancelled')).map((j) => j.id), [cancelledJob.id], 'status=cancelled');
  t.same(await only('status=running'), [], 'status=running: nothing runs now');
  t.same((await only('kind=image.promote')).map((j) => j.id), ids, 'kind=image.promote');
  t.same(await only('kind=vm.create'), [], 'kind=vm.create');
  t.same((await only(`targetType=image&targetId=${bulkyImage.id}`)).map((j) => j.id), [bulkyJob.id, cancelledJob.id], 'one image, newest first');
  t.same((await only(`targetId=${sparseImage.id}`)).map((j) => j.id), [sparseJob.id], 'targetId alone');
  t.same((await only(`status=cancelled&targetId=${sparseImage.id}`)), [], 'filters combine');
  t.same(await only('targetType=vm'), [], 'targetType=vm');

  const walked: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page <= ids.length; page++) {
    const res: any = await daemon.http('GET', `/jobs?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
    t.equal(res.body.items.length, 1);
    walked.push(res.body.items[0].id);
    cursor = res.body.nextCursor;
    if (cursor === null) break;
  }
  t.same(walked, ids, 'limit=1 pages visit every job once, newest first');
  const firstTwo = (await daemon.http('GET', '/jobs?limit=2&status=succeeded')).body;
  const rest = (await daemon.http('GET', `/jobs?limit=500&status=succeeded&cursor=${firstTwo.nextCursor}`)).body;
  t.same([...firstTwo.items, ...rest.items].map((j: any) => j.id), succeeded.map((j) => j.id), 'the cursor keeps the filter');
  t.ok(all.items.every((j: any) => finished.includes(j.status)), 'every job has finished');
});
