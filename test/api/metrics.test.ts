// GET /metrics (issue #10) in-process: requests counted by route template and status (never by the
// URL a client sent), every VM state listed, job and stage durations under the kind's own stage
// names, one registry for both listeners, and the bearer token on the TCP listener's app.
import { setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import t from 'tap';
import { buildApp } from '../../server/app.js';
import { vmStates } from '../../server/domain/vm.js';
import { newId } from '../../server/services/ids.js';
import { defineJobKind } from '../../server/services/jobs/job-kind.js';
import { insertVmRow, startApp, type TestApp } from '../helpers/app.js';
import { parseMetrics, samplesOf, valueOf } from '../helpers/metrics.js';

const app = await startApp(t);

async function scrape(from: TestApp['inject'] = app.inject) {
  const res = await from('GET', '/metrics');
  if (res.status !== 200) throw new Error(`GET /metrics: ${res.status} ${res.text}`);
  return { res, samples: parseMetrics(res.text) };
}

t.test('requests by method, route template and status; never by URL', async (t) => {
  t.equal((await app.inject('GET', '/healthz')).status, 200);
  t.equal((await app.inject('GET', '/vms/some-unique-name-xyz')).status, 404);
  t.equal((await app.inject('GET', '/jobs?limit=0')).status, 422);
  t.equal((await app.inject('GET', '/no-such-route-qwz/deeper')).status, 404);

  const { res, samples } = await scrape();
  t.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8', 'the Prometheus text format');
  const requests = (route: string, status: string) => valueOf(samples, 'banger_http_requests_total', { method: 'GET', route, status });
  t.equal(requests('/healthz', '200'), 1);
  t.equal(requests('/vms/:idOrName', '404'), 1, 'a 404 of a route is counted under its template');
  t.equal(requests('/jobs', '422'), 1);
  t.equal(requests('unmatched', '404'), 1, 'no route matched: one fixed label');
  t.notMatch(res.text, 'some-unique-name-xyz', 'no URL a client sent becomes a label');
  t.notMatch(res.text, 'no-such-route-qwz');
  t.equal(valueOf(samples, 'banger_http_request_duration_seconds_count', { method: 'GET', route: '/vms/:idOrName' }), 1, 'durations by template');
  t.ok(valueOf(samples, 'banger_process_resident_memory_bytes')! > 0, 'the process, with the banger_ prefix');

  const again = (await scrape()).samples;
  t.equal(valueOf(again, 'banger_http_requests_total', { method: 'GET', route: '/metrics', status: '200' }), 1, 'the scrape before counts too');
});

t.test('VMs by state: every state, counted at the scrape', async (t) => {
  const vmsByState = async () => Object.fromEntries(samplesOf((await scrape()).samples, 'banger_vms').map((sample) => [sample.labels.state, sample.value]));
  t.same(await vmsByState(), Object.fromEntries(vmStates.map((state) => [state, 0])), 'every state, at 0 with no VM');

  const imageId = insertImageRow();
  insertVmRow(app, { id: newId(), name: 'stopped-one', imageId, state: 'stopped' });
  insertVmRow(app, { id: newId(), name: 'stopped-two', imageId, state: 'stopped' });
  insertVmRow(app, { id: newId(), name: 'failed-one', imageId, state: 'failed' });
  t.match(await vmsByState(), { stopped: 2, failed: 1, running: 0, creating: 0 });
});

t.test("job and stage durations by kind, under the kind's stage names", async (t) => {
  const perTarget = defineJobKind('test.metrics', ['prepare', 'apply'] as const, { eachTarget: true });
  const single = defineJobKind('test.failing', ['prepare', 'apply'] as const);
  const jobs = app.daemon.services.jobs;
  const target = { type: 'vm' as const, id: newId(), name: 'target-name-from-a-request' };
  const ran = jobs.start({
    kind: perTarget,
    targets: [target],
    run: async (context) => {
      const stages = context.forTarget(target.id);
      stages.stage('prepare');
      await delay(30);
      stages.stage('apply');
    },
  });
  const failed = jobs.start({
    kind: single,
    targets: [{ type: 'vm', id: newId() }],
    run: async (context) => {
      context.stage('prepare');
      throw new Error('broken on purpose');
    },
  });
  t.equal((await jobs.wait(ran.id, 10)).status, 'succeeded');
  t.equal((await jobs.wait(failed.id, 10)).status, 'failed');

  const { res, samples } = await scrape();
  t.notMatch(res.text, target.name, 'a target name never becomes a label');
  const stageCount = (kind: string, stage: string, status: string) => valueOf(samples, 'banger_job_stage_duration_seconds_count', { kind, stage, status });
  t.equal(stageCount('test.metrics', 'prepare', 'succeeded'), 1, 'the kind\'s stage, without the target');
  t.equal(stageCount('test.metrics', 'apply', 'succeeded'), 1);
  t.ok(valueOf(samples, 'banger_job_stage_duration_seconds_sum', { kind: 'test.metrics', stage: 'prepare', status: 'succeeded' })! >= 0.02, 'the stage took its 30 ms');
  t.equal(stageCount('test.failing', 'prepare', 'failed'), 1, 'a stage a failure ended');
  t.equal(samplesOf(samples, 'banger_job_stage_duration_seconds_count', { kind: 'test.failing', stage: 'apply' }).length, 0, 'a stage never reached has no sample');
  t.equal(valueOf(samples, 'banger_job_duration_seconds_count', { kind: 'test.metrics', status: 'succeeded' }), 1);
  t.equal(valueOf(samples, 'banger_job_duration_seconds_count', { kind: 'test.failing', status: 'failed' }), 1);
  t.match(res.text, /^# TYPE banger_vm_boot_phase_duration_seconds histogram$/m, 'boot phases are declared (a boot fills them: test/integration/api-vms.test.ts)');
});

t.test("one registry for both listeners; the TCP listener's needs its token", async (t) => {
  const token = 'metrics-test-token';
  const tcp = await buildApp({ services: app.daemon.services, logger: pino({ level: 'silent' }), bodyLimit: 65536, token });
  t.teardown(() => tcp.close());
  const viaTcp = async (headers: Record<string, string> = {}) => tcp.inject({ method: 'GET', url: '/metrics', headers });

  t.equal((await viaTcp()).statusCode, 401, 'no exemption from the bearer token');
  const answered = await viaTcp({ authorization: `Bearer ${token}` });
  t.equal(answered.statusCode, 200);
  const samples = parseMetrics(answered.body);
  t.equal(valueOf(samples, 'banger_http_requests_total', { method: 'GET', route: '/metrics', status: '401' }), 1, 'the refused scrape, counted');
  t.ok(valueOf(samples, 'banger_http_requests_total', { method: 'GET', route: '/healthz', status: '200' })! >= 1, "the unix socket app's requests are in the same registry");
});

/** An image row for VM rows to name; no file of it is ever read here. */
function insertImageRow(): string {
  const id = newId();
  const stamp = new Date().toISOString();
  app.daemon.database.sqlite
    .prepare('INSERT INTO images (id, name, rootfs_path, work_seed_path, kernel_path, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
    .run(id, 'img', '/nonexistent/rootfs', '/nonexistent/seed', '/nonexistent/kernel', stamp, stamp);
  return id;
}
