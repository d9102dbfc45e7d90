// VM requests refused in-process before any job, disk or hypervisor: the create body, lookups,
// query strings, label selectors, and conflicts that need only a stopped VM's row.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import t from 'tap';
import { checkProblemCases, insertVmRow, invalidField, startApp, type ProblemCase } from '../helpers/app.js';
import { makeTempDir } from '../helpers/daemon.js';
import { makeExt4Image, makeInitrdFile, makeKernelFile } from '../helpers/ext4.js';

// One VM record at most, and `held` below is it: a create that passed every check would be refused
// too, so no case can start a real boot.
const app = await startApp(t, { env: { BANGER_MAX_VMS: '1', BANGER_MAX_VM_RECORDS: '1' } });
const files = await makeTempDir(t, 'banger-vms-');

function pathOf(name: string): string {
  const path = join(files, name);
  mkdirSync(dirname(path), { recursive: true });
  return path;
}

// A create checks that the image's files exist and reads the work seed's size; nothing boots from them.
const kernel = makeKernelFile(files);
const image = await app.inject('POST', '/images', {
  name: 'bb',
  rootfsPath: makeExt4Image(pathOf('rootfs.ext4'), '16M'),
  kernelPath: kernel,
  initrdPath: makeInitrdFile(pathOf('initrd.img')),
  workSeedPath: makeExt4Image(pathOf('work-seed.ext4'), '16M'),
});
if (image.status !== 201) throw new Error(`POST /images: ${image.status} ${image.text}`);
// In a dir of its own, so that no work seed is found beside its rootfs.
const bare = await app.inject('POST', '/images', { name: 'bare', rootfsPath: makeExt4Image(pathOf('bare/rootfs.ext4'), '16M'), kernelPath: kernel });
if (bare.status !== 201) throw new Error(`POST /images: ${bare.status} ${bare.text}`);
insertVmRow(app, { id: 'vm0000000000held', name: 'held', imageId: image.body.id, state: 'stopped' });

const create = (name: string, body: Record<string, unknown>, status: number, code: string, fields?: string[]): ProblemCase => ({
  name: `create: ${name}`,
  method: 'POST',
  path: '/vms',
  body,
  status,
  code,
  ...(fields ? { fields } : {}),
});
const unknownVm = (method: string, path: string): ProblemCase => ({ name: `${method} ${path}`, method, path, status: 404, code: 'vm-not-found', detail: /nope/ });

t.test('JSON bodies are taken as sent: a wrong type is refused, never converted', async (t) => {
  await checkProblemCases(t, app, [
    create('cpus as a string', { image: 'bb', cpus: '2' }, 422, 'validation-failed', ['body.cpus']),
    create('cpus as a boolean', { image: 'bb', cpus: true }, 422, 'validation-failed', ['body.cpus']),
    create('a label value as a number', { image: 'bb', labels: { a: 1 } }, 422, 'validation-failed', ['body.labels.a']),
    create('the image as a list', { image: ['bb'] }, 422, 'validation-failed', ['body.image']),
    create('ports as one number', { image: 'bb', ports: 8080 }, 422, 'validation-failed', ['body.ports']),
    create('memory as a string', { image: 'bb', memoryMiB: '512' }, 422, 'validation-failed', ['body.memoryMiB']),
    { ...invalidField('POST', '/images/builds', 'body.name'), name: 'a build named by a number', body: { name: 123, recipe: 'busybox' } },
    { ...invalidField('POST', '/images/builds', 'body.docker'), name: 'docker as a string', body: { name: 'x', recipe: 'busybox', docker: 'true' } },
    { ...invalidField('POST', '/vms/held/exec', 'body.command'), name: 'an exec command as a string', body: { command: 'true' } },
  ]);
  // Byte bodies (files, stdin) pass the strict checks and reach the VM's state check.
  const upload = await app.inject('PUT', '/vms/held/files?path=/root/x', Buffer.from('bytes'), { 'content-type': 'application/octet-stream' });
  t.equal(upload.body?.code, 'vm-state-conflict', `a file body is not a validation error: ${upload.text}`);
  const tar = await app.inject('PUT', '/vms/held/files?path=/root/x', Buffer.alloc(1024), { 'content-type': 'application/x-tar' });
  t.equal(tar.body?.code, 'vm-state-conflict', `nor a tar body: ${tar.text}`);
  const stdin = await app.inject('PUT', '/vms/held/execs/e1/stdin', Buffer.from('input'), { 'content-type': 'application/octet-stream' });
  t.equal(stdin.body?.code, 'exec-not-found', `nor stdin: ${stdin.text}`);
  // Query strings are text: numbers in them are still read as numbers.
  const listed = await app.inject('GET', '/vms?limit=5');
  t.equal(listed.status, 200, listed.text);
});

t.test('bad VM requests are refused before any job, row or file exists', async (t) => {
  await checkProblemCases(t, app, [
    create('an unknown image', { image: 'nope' }, 404, 'image-not-found'),
    create('no image', { name: 'x' }, 422, 'validation-failed', ['body.image']),
    create('an image without initrd or work seed', { image: 'bare' }, 422, 'image-not-bootable', ['initrdPath', 'workSeedPath']),
    create('a taken name', { name: 'held', image: 'bb' }, 409, 'vm-name-taken'),
    { ...create('one VM more than BANGER_MAX_VM_RECORDS', { name: 'one-more', image: 'bb' }, 409, 'vm-limit-reached'), detail: /1 VMs in any state.*BANGER_MAX_VM_RECORDS is 1/ },
    { ...create('one stopped VM more than BANGER_MAX_VM_RECORDS', { name: 'one-more', image: 'bb', start: false }, 409, 'vm-limit-reached'), detail: /BANGER_MAX_VM_RECORDS/ },
    create('start: false with a snapshot', { snapshot: 'any', start: false }, 422, 'validation-failed', ['body.start']),
    create('start that is not a boolean', { image: 'bb', start: 'no' }, 422, 'validation-failed', ['body.start']),
    create('a bad name', { name: '-x', image: 'bb' }, 422, 'validation-failed', ['body.name']),
    create('too many cpus', { image: 'bb', cpus: 512 }, 422, 'validation-failed', ['body.cpus']),
    create('zero cpus', { image: 'bb', cpus: 0 }, 422, 'validation-failed', ['body.cpus']),
    create('too little memory', { image: 'bb', memoryMiB: 16 }, 422, 'validation-failed', ['body.memoryMiB']),
    create('too much memory', { image: 'bb', memoryMiB: 16_000_000 }, 422, 'validation-failed', ['body.memoryMiB']),
    create('an unreadable disk size', { image: 'bb', workDiskSize: 'lots' }, 422, 'validation-failed', ['body.workDiskSize']),
    create('a disk smaller than the work seed', { image: 'bb', workDiskSize: '1M' }, 422, 'validation-failed', ['body.workDiskSize']),
    create('a disk over the limit', { image: 'bb', workDiskSize: '100T' }, 422, 'validation-failed', ['body.workDiskSize']),
    create('port 0', { image: 'bb', ports: [0] }, 422, 'validation-failed', ['body.ports.0']),
    create('port 70000', { image: 'bb', ports: [70000] }, 422, 'validation-failed', ['body.ports.0']),
    create('a port listed twice', { image: 'bb', ports: [8080, 8080] }, 422, 'validation-failed', ['body.ports']),
    create('a port that is not a number', { image: 'bb', ports: ['http'] }, 422, 'validation-failed', ['body.ports.0']),
    create('a bad label key', { image: 'bb', labels: { 'no spaces': 'x' } }, 422, 'validation-failed', ['body.labels.no spaces']),
    create('a label value that is not a string', { image: 'bb', labels: { a: { nested: true } } }, 422, 'validation-failed', ['body.labels.a']),
    create('a TTL of zero', { image: 'bb', ttlSeconds: 0 }, 422, 'validation-failed', ['body.ttlSeconds']),
    create('an unknown field', { image: 'bb', colour: 'red' }, 422, 'validation-failed', ['body.colour']),

    unknownVm('GET', '/vms/nope'),
    unknownVm('POST', '/vms/nope/stop'),
    unknownVm('POST', '/vms/nope/start'),
    unknownVm('POST', '/vms/nope/restart'),
    unknownVm('DELETE', '/vms/nope'),
    unknownVm('GET', '/vms/nope/console'),
    { name: 'stop a stopped VM', method: 'POST', path: '/vms/held/stop', status: 409, code: 'vm-state-conflict', detail: /held is stopped/ },

    invalidField('GET', '/vms/held/console?tail=0', 'querystring.tail'),
    invalidField('POST', '/vms/held/stop?graceSeconds=-1', 'querystring.graceSeconds'),
    invalidField('GET', '/vms?state=asleep', 'querystring.state'),
    invalidField('GET', '/vms?limit=0', 'querystring.limit'),
    invalidField('GET', `/vms/${'x'.repeat(300)}`, 'params.idOrName'),
    invalidField('GET', '/vms?label=nolabel', 'querystring.label.0'),
    invalidField('GET', `/vms?label=${encodeURIComponent('bad key=x')}`, 'querystring.label'),
    invalidField('DELETE', '/vms', 'querystring.label'),
    invalidField('DELETE', '/vms?label=nolabel', 'querystring.label.0'),
    invalidField('DELETE', `/vms?label=${encodeURIComponent('bad key=x')}`, 'querystring.label'),
  ]);
});
