// VM request checks, views, settings and the small helpers around them: pure logic, no guests.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { labelsFrom, parseDuration, sshArgs } from '../../client/cli/commands/vms.js';
import { UsageError } from '../../client/cli/output.js';
import { openDatabase } from '../../server/db/database.js';
import { ImageRepository } from '../../server/db/repositories/images.js';
import { VmRepository, type VmRow } from '../../server/db/repositories/vms.js';
import { KeyedLock } from '../../server/services/vms/keyed-lock.js';
import { countsAgainstMaxVms, createdStoppedCode, vmLimitProblem } from '../../server/services/vms/vm-limits.js';
import { PhaseClock } from '../../server/services/vms/phase-clock.js';
import { PortAllocator } from '../../server/services/vms/port-allocator.js';
import { generatedVmName, labelErrors, parseLabelSelector, resourceErrors } from '../../server/services/vms/vm-request.js';
import { parsePortRange, vmSettingsFromEnv, VmSettingsError, type VmSettings } from '../../server/services/vms/vm-settings.js';
import { shellWord, sshBlock, vmView } from '../../server/services/vms/vm-view.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

const settings: VmSettings = {
  ...vmSettingsFromEnv({}),
  maxCpus: 4,
  maxMemoryMiB: 4096,
  maxWorkDiskBytes: 8 * GiB,
};

t.test('create requests: each bad field is named', async (t) => {
  const ok = resourceErrors({ image: 'x', cpus: 2, memoryMiB: 1024, workDiskSize: '2G', ports: [22, 8080], labels: { env: 'ci' }, ttlSeconds: 60 }, settings, 64 * MiB);
  t.same(ok.errors, []);
  t.equal(ok.workDiskBytes, 2 * GiB);
  t.equal(resourceErrors({ image: 'x' }, settings, 64 * MiB).workDiskBytes, GiB, 'default work disk 1G');
  t.equal(resourceErrors({ image: 'x' }, settings, 3 * GiB).workDiskBytes, 3 * GiB, 'never smaller than the seed');

  const fields = (input: Parameters<typeof resourceErrors>[0], seed = 64 * MiB) => resourceErrors(input, settings, seed).errors.map((e) => e.field);
  t.same(fields({ image: 'x', cpus: 5 }), ['body.cpus']);
  t.same(fields({ image: 'x', memoryMiB: 64 }), ['body.memoryMiB']);
  t.same(fields({ image: 'x', memoryMiB: 5000 }), ['body.memoryMiB']);
  t.same(fields({ image: 'x', workDiskSize: 'big' }), ['body.workDiskSize']);
  t.same(fields({ image: 'x', workDiskSize: '32M' }), ['body.workDiskSize']);
  t.same(fields({ image: 'x', workDiskSize: '9G' }), ['body.workDiskSize']);
  t.same(fields({ image: 'x', ports: [80, 80] }), ['body.ports']);
  t.same(fields({ image: 'x', ports: [0] }), ['body.ports']);
  t.same(fields({ image: 'x', labels: { 'bad key': 'v' } }), ['body.labels.bad key']);
  t.same(fields({ image: 'x', ttlSeconds: 100 * 24 * 3600 }), ['body.ttlSeconds']);
  t.same(fields({ image: 'x', cpus: 0, memoryMiB: 1, workDiskSize: '?' }), ['body.cpus', 'body.memoryMiB', 'body.workDiskSize'], 'all at once');
  const seedHint = resourceErrors({ image: 'x', workDiskSize: '32M' }, settings, 64 * MiB).errors[0]?.hint;
  t.match(seedHint, /at least 64M/);
});

t.test('labels and selectors', async (t) => {
  t.same(parseLabelSelector('env=ci'), { key: 'env', value: 'ci' });
  t.same(parseLabelSelector('url=a=b'), { key: 'url', value: 'a=b' }, 'the value may hold =');
  t.same(parseLabelSelector('team/owner='), { key: 'team/owner', value: '' }, 'an empty value');
  t.equal(parseLabelSelector('novalue'), null);
  t.equal(parseLabelSelector('=x'), null);
  t.equal(parseLabelSelector('bad key=x'), null);
  t.same(labelErrors({ ok: 'x', 'a.b_c-d/e': 'y' }), []);
  t.equal(labelErrors(Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v']))).length, 1, 'at most 32');
  t.match(generatedVmName(), /^vm-[0-9a-f]{6}$/);
});

t.test('the CLI reads durations and labels', async (t) => {
  t.equal(parseDuration('90'), 90);
  t.equal(parseDuration('90s'), 90);
  t.equal(parseDuration('30m'), 1800);
  t.equal(parseDuration('2h'), 7200);
  t.equal(parseDuration('1d'), 86400);
  t.equal(parseDuration('1h30m'), 5400);
  t.throws(() => parseDuration('5 fortnights'), UsageError);
  t.throws(() => parseDuration('m'), UsageError);
  t.same(labelsFrom(['a=1', 'b=x=y'], '--label'), { a: '1', b: 'x=y' });
  t.throws(() => labelsFrom(['nokey'], '--label'), UsageError);
  const ssh = sshBlock(2222, '/var/lib/banger/ssh/id_ed25519');
  t.same(sshArgs(ssh, ['uname', '-a']).slice(-3), ['root@127.0.0.1', 'uname', '-a']);
  t.equal(ssh.command, 'ssh -i /var/lib/banger/ssh/id_ed25519 -p 2222 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@127.0.0.1');
  t.equal(shellWord("/tmp/my key's"), `'/tmp/my key'\\''s'`, 'paths with spaces and quotes are quoted');
});

t.test('settings from the environment', async (t) => {
  const env = vmSettingsFromEnv({ BANGER_MAX_VMS: '3', BANGER_VM_MAX_DISK: '4G', BANGER_VM_PORT_RANGE: '40000-40100', BANGER_VM_STOP_GRACE_SECONDS: '0' });
  t.equal(env.maxVms, 3);
  t.equal(env.maxWorkDiskBytes, 4 * GiB);
  t.same(env.portRange, { first: 40000, last: 40100 });
  t.equal(env.stopGraceMs, 0);
  t.equal(env.maxVmRecords, 256, 'BANGER_MAX_VM_RECORDS defaults to 256');
  t.equal(vmSettingsFromEnv({ BANGER_MAX_VM_RECORDS: '2' }).maxVmRecords, 2);
  t.equal(vmSettingsFromEnv({}).maxVms, 16, 'BANGER_MAX_VMS defaults to 16');
  t.throws(() => vmSettingsFromEnv({ BANGER_MAX_VMS: 'many' }), VmSettingsError);
  t.throws(() => vmSettingsFromEnv({ BANGER_MAX_VM_RECORDS: '0' }), VmSettingsError);
  t.throws(() => vmSettingsFromEnv({ BANGER_VM_MAX_DISK: 'huge' }), VmSettingsError);
  t.throws(() => parsePortRange('80-90'), VmSettingsError);
  t.throws(() => parsePortRange('40000-40001'), VmSettingsError, 'too narrow');
});

t.test('VM limits: BANGER_MAX_VMS counts VMs that run or are on their way, BANGER_MAX_VM_RECORDS every row', async (t) => {
  const proc = { pid: 1 } as unknown as VmRow['process'];
  const row = (state: VmRow['state'], stateReason: string | null = null, withProcess = false) => ({ state, stateReason, process: withProcess ? proc : null });
  for (const state of ['starting', 'running', 'paused', 'stopping'] as const) t.ok(countsAgainstMaxVms(row(state, null, true)), `${state} counts`);
  t.ok(countsAgainstMaxVms(row('creating')), 'a create that boots counts before its process exists');
  t.notOk(countsAgainstMaxVms(row('creating', createdStoppedCode)), 'a create with start: false does not');
  t.notOk(countsAgainstMaxVms(row('stopped', createdStoppedCode)), 'nor the VM it made');
  t.notOk(countsAgainstMaxVms(row('stopped', 'stop_requested')), 'a stopped VM does not');
  t.notOk(countsAgainstMaxVms(row('failed', 'kernel_panic')), 'a failed one does not');
  t.ok(countsAgainstMaxVms(row('deleting', 'delete_requested', true)), 'a delete whose process is recorded counts');
  t.notOk(countsAgainstMaxVms(row('deleting', 'delete_requested')), 'a delete of a stopped VM does not');

  const limits = { maxVms: 2, maxVmRecords: 3 };
  t.equal(vmLimitProblem({ records: 2, running: 1 }, limits, { record: true, run: true }), null, 'room for both');
  t.equal(vmLimitProblem({ records: 2, running: 2 }, limits, { record: true, run: false }), null, 'a create with start: false ignores the running limit');
  t.equal(vmLimitProblem({ records: 3, running: 0 }, limits, { record: false, run: true }), null, 'a start ignores the record limit');
  const running = vmLimitProblem({ records: 2, running: 2 }, limits, { record: true, run: true });
  t.match(running, { code: 'vm-limit-reached', message: /runs 2 VMs.*BANGER_MAX_VMS is 2/ });
  t.match(vmLimitProblem({ records: 3, running: 2 }, limits, { record: false, run: true }), { code: 'vm-limit-reached', message: /BANGER_MAX_VMS/ }, 'a start, refused');
  t.match(vmLimitProblem({ records: 3, running: 0 }, limits, { record: true, run: false }), { code: 'vm-limit-reached', message: /has 3 VMs in any state.*BANGER_MAX_VM_RECORDS is 3/ });
});

t.test('one holder per key, in arrival order', async (t) => {
  const lock = new KeyedLock();
  const events: string[] = [];
  const hold = (key: string, name: string, ms: number) =>
    lock.with(key, async () => {
      events.push(`${name}+`);
      await new Promise((resolve) => setTimeout(resolve, ms));
      events.push(`${name}-`);
    });
  await Promise.all([hold('a', 'first', 30), hold('a', 'second', 5), hold('b', 'other', 5)]);
  t.same(events.filter((e) => e.startsWith('first') || e.startsWith('second')), ['first+', 'first-', 'second+', 'second-']);
  t.ok(events.indexOf('other+') < events.indexOf('first-'), 'another key does not wait');
});

t.test('the phase clock times stages and skips', async (t) => {
  const seen: string[] = [];
  const clock = new PhaseClock({ stage: (name) => seen.push(`stage ${name}`), skip: (name) => seen.push(`skip ${name}`) });
  clock.enter('one');
  await new Promise((resolve) => setTimeout(resolve, 20));
  clock.skip('two', 'not needed');
  clock.enter('three');
  const timings = clock.finish();
  t.same(seen, ['stage one', 'skip two', 'stage three']);
  t.ok((timings.one ?? 0) >= 15, `one took ${timings.one} ms`);
  t.notOk('two' in timings, 'a skipped stage has no timing');
  t.ok((timings.total ?? 0) >= (timings.one ?? 0));
  t.ok(clock.has('two') && !clock.has('four'));
});

t.test('ports: reservations are unique per host port and go with the VM', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'banger-vm-ports-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const database = openDatabase(join(dir, 'banger.db'));
  t.teardown(() => database.close());
  const images = new ImageRepository(database.db);
  const vms = new VmRepository(database.db);
  const at = new Date().toISOString();
  images.upsert({
    id: 'img', name: 'img', managed: false, artifactDir: null, rootfsPath: '/r', workSeedPath: null, kernelPath: '/k', initrdPath: null,
    modulesDir: null, packagesPath: null, packagesSha256: null, buildSize: null, seededSshPublicKeyFingerprint: null, docker: false, services: [], warmSnapshotId: null, createdAt: at, updatedAt: at,
  });
  const row = (id: string, labels: Record<string, string> = {}): VmRow => ({
    id, name: id, imageId: 'img', state: 'running', stateReason: null, stateMessage: null, stateChangedAt: at, cpus: 1, memoryMib: 256,
    workDiskBytes: GiB, hypervisor: 'qemu', accel: 'tcg', vmDir: null, process: null, consoleLog: null, labels, ttlSeconds: null,
    expiresAt: null, timings: null, bootedAt: null, disks: null, memoryFile: null, baseSnapshotId: null, bootMode: null, createdAt: at, updatedAt: at,
  });
  vms.insert(row('one', { env: 'ci', team: 'a' }));
  vms.insert(row('two', { env: 'ci', team: 'b' }));

  // A range of 16 ports: two VMs with 8 each fill it, a ninth port finds nothing.
  const allocator = new PortAllocator(vms, { first: 47000, last: 47015 });
  const first = await allocator.reserve('one', Array.from({ length: 8 }, (_, i) => ({ guestPort: 1000 + i, wait: true })));
  const second = await allocator.reserve('two', Array.from({ length: 8 }, (_, i) => ({ guestPort: 1000 + i, wait: i === 0 })));
  const all = [...first, ...second].map((a) => a.hostPort);
  t.equal(new Set(all).size, 16, 'no host port twice');
  t.ok(all.every((p) => p >= 47000 && p <= 47015), 'within the range');
  await t.rejects(allocator.reserve('one', [{ guestPort: 2000, wait: true }]), { code: 'vm-ports-exhausted' });
  t.equal(vms.portsOf('one').length, 8, 'a failed reservation leaves nothing behind');
  t.same(vms.portsOf('two').map((p) => p.wait), [true, false, false, false, false, false, false, false]);

  t.same(vms.matching({ labels: [{ key: 'env', value: 'ci' }] }).map((v) => v.id), ['one', 'two']);
  t.same(vms.matching({ labels: [{ key: 'env', value: 'ci' }, { key: 'team', value: 'b' }] }).map((v) => v.id), ['two']);
  t.same(vms.matching({ labels: [{ key: 'env"', value: 'ci' }] }), [], 'a quote in a key is literal, not SQL or a path');

  vms.delete('one');
  t.same(vms.portsOf('one'), [], 'deleting the VM releases its ports');
  const [again] = await allocator.reserve('two', [{ guestPort: 2000, wait: true }]);
  t.ok(first.some((a) => a.hostPort === again?.hostPort), 'a released port can be handed out again');

  const view = vmView(vms.get('two') as VmRow, { imageName: 'img', ports: vms.portsOf('two'), services: [], sshPrivateKeyPath: '/state/ssh/id_ed25519' });
  t.equal(view.ports.length, 9);
  t.equal(view.ssh, null, 'no guest port 22, no ssh block');
  t.equal(view.pid, null);
  t.equal(view.workDiskSize, '1G');
});
