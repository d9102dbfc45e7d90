// The daemon keeps list answers until their data changes (server/http/kept-answers.ts): each change,
// made by the daemon's own connection or behind its back by another, shows in the very next GET,
// and a kept answer is the same JSON a fresh one would be. In-process, rows written directly.
import Sqlite from 'better-sqlite3';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import t from 'tap';
import { stateLayout } from '../../server/config.js';
import { ImageRepository, type ImageRow } from '../../server/db/repositories/images.js';
import { VmRepository } from '../../server/db/repositories/vms.js';
import { insertVmRow, startApp } from '../helpers/app.js';

const app = await startApp(t);
const images = new ImageRepository(app.daemon.database.db);
const vms = new VmRepository(app.daemon.database.db);

function imageRow(name: string): ImageRow {
  const at = new Date().toISOString();
  return {
    id: 'a1b2c3d4e5f60718',
    name,
    managed: false,
    artifactDir: null,
    rootfsPath: '/nowhere/rootfs.ext4',
    workSeedPath: null,
    kernelPath: '/nowhere/vmlinuz',
    initrdPath: null,
    modulesDir: null,
    packagesPath: null,
    packagesSha256: null,
    buildSize: null,
    seededSshPublicKeyFingerprint: null,
    docker: false,
    services: [],
    warmSnapshotId: null,
    createdAt: at,
    updatedAt: at,
  };
}

t.test('a change shows in the next list, whoever made it', async (t) => {
  const list = async (path: string): Promise<{ text: string; body: any }> => {
    const res = await app.inject('GET', path);
    t.equal(res.status, 200, path);
    t.match(res.headers['content-type'], /^application\/json/, `${path} is JSON`);
    t.equal(Number(res.headers['content-length']), Buffer.byteLength(res.text), `${path}: its length`);
    return { text: res.text, body: res.body };
  };

  t.same((await list('/vms')).body.items, []);
  t.same((await list('/images')).body.items, []);

  images.upsert(imageRow('first'));
  t.same((await list('/images')).body.items.map((image: any) => image.name), ['first'], 'a new image');
  insertVmRow(app, { id: 'b1b2c3d4e5f60718', name: 'one', imageId: 'a1b2c3d4e5f60718', state: 'stopped' });
  const listed = await list('/vms');
  t.same(listed.body.items.map((vm: any) => [vm.name, vm.state, vm.image.name]), [['one', 'stopped', 'first']], 'a new VM');
  t.equal((await list('/vms')).text, listed.text, 'asked again: the same answer');
  t.equal((await list('/vms?limit=50')).text, listed.text, 'the default limit spelt out: the same answer');

  vms.update('b1b2c3d4e5f60718', { state: 'failed', stateReason: 'interrupted', stateMessage: 'test' });
  t.same((await list('/vms')).body.items.map((vm: any) => [vm.state, vm.stateReason?.code]), [['failed', 'interrupted']], 'a state change');
  vms.reservePort({ vmId: 'b1b2c3d4e5f60718', guestPort: 22, hostPort: 40022, wait: false });
  t.same((await list('/vms')).body.items[0].ports.map((port: any) => port.hostPort), [40022], 'a port reserved (another table)');
  t.equal((await list('/vms')).body.items[0].ssh?.port, 40022, 'and the ssh block that comes with it');
  images.upsert(imageRow('renamed'));
  t.equal((await list('/vms')).body.items[0].image.name, 'renamed', "the image's name (another table)");
  t.same((await list('/images')).body.items.map((image: any) => image.name), ['renamed']);

  const other = new Sqlite(stateLayout(app.stateDir).database);
  try {
    other.prepare('update vms set cpus = 3').run();
    other.prepare('update images set docker = 1').run();
  } finally {
    other.close();
  }
  t.equal((await list('/vms')).body.items[0].cpus, 3, "another connection's write");
  t.equal((await list('/images')).body.items[0].docker, true, "another connection's write to images");
  t.same((await list('/vms?state=running')).body.items, [], 'another query of the same data');
  t.same((await list('/jobs')).body.items, []);
  t.same((await list('/snapshots')).body.items, []);
});

t.test('a poller that sends back the ETag gets 304 while its page is unchanged, and the page once it changed', async (t) => {
  const first = await app.inject('GET', '/images?limit=5');
  const etag = String(first.headers.etag);
  t.match(etag, /^"[A-Za-z0-9_-]{27}"$/, 'a strong tag');
  const again = await app.inject('GET', '/images?limit=5', undefined, { 'if-none-match': etag });
  t.same([again.status, again.text, again.headers.etag], [304, '', etag], '304, no body, the same tag');
  for (const header of [`W/${etag}`, `"other", ${etag}`, '*']) {
    t.equal((await app.inject('GET', '/images?limit=5', undefined, { 'if-none-match': header })).status, 304, `If-None-Match: ${header}`);
  }
  t.equal((await app.inject('GET', '/images?limit=5', undefined, { 'if-none-match': '"other"' })).status, 200, 'another tag: the page');

  insertVmRow(app, { id: 'c1b2c3d4e5f60718', name: 'two', imageId: 'a1b2c3d4e5f60718', state: 'stopped' });
  t.equal((await app.inject('GET', '/images?limit=5', undefined, { 'if-none-match': etag })).status, 304, 'a write elsewhere that left the page as it was: still 304');
  images.upsert({ ...imageRow('renamed-again'), updatedAt: new Date(Date.now() + 1000).toISOString() });
  const changed = await app.inject('GET', '/images?limit=5', undefined, { 'if-none-match': etag });
  t.equal(changed.status, 200, 'the page changed: 200');
  t.not(changed.headers.etag, etag, 'with a new tag');
  t.equal(changed.body.items[0].name, 'renamed-again');
  const tooLong = await app.inject('GET', '/vms', undefined, { 'if-none-match': 'x'.repeat(1025) });
  t.equal(tooLong.status, 422, 'an If-None-Match over 1024 characters is refused');
});

t.test('a page over 1 KiB goes compressed when Accept-Encoding asks, under its own ETag, with Vary', async (t) => {
  for (const [i, name] of ['three', 'four', 'five'].entries()) insertVmRow(app, { id: `d${i}b2c3d4e5f60718`, name, imageId: 'a1b2c3d4e5f60718', state: 'stopped' });
  const get = async (headers: Record<string, string>) => {
    const res = await app.app.inject({ method: 'GET', url: '/vms', headers });
    return { status: res.statusCode, headers: res.headers, raw: res.rawPayload };
  };
  const plain = await get({});
  t.ok(plain.raw.length > 1024, `the page is ${plain.raw.length} bytes`);
  t.same([plain.headers['content-encoding'], plain.headers.vary], [undefined, 'accept-encoding'], 'plain JSON without Accept-Encoding, and Vary');
  const plainTag = String(plain.headers.etag);
  const decoders = { br: brotliDecompressSync, gzip: gunzipSync };
  for (const [header, coding] of [['gzip, deflate, br', 'br'], ['gzip', 'gzip'], ['br;q=0, gzip;q=0.5', 'gzip'], ['GZIP', 'gzip']] as const) {
    const coded = await get({ 'accept-encoding': header });
    t.equal(coded.headers['content-encoding'], coding, `Accept-Encoding: ${header}`);
    t.equal(Number(coded.headers['content-length']), coded.raw.length, 'its length is of the compressed bytes');
    t.ok(decoders[coding](coded.raw).equals(plain.raw), 'which hold the same page');
    t.equal(coded.headers.etag, `${plainTag.slice(0, -1)}-${coding}"`, 'under a tag of its own');
    t.equal(coded.headers.vary, 'accept-encoding');
  }
  for (const header of ['identity;q=1, br;q=0.5', 'deflate', 'br;q=0']) {
    const res = await get({ 'accept-encoding': header });
    t.same([res.headers['content-encoding'], res.headers.etag], [undefined, plainTag], `Accept-Encoding: ${header}: plain`);
  }
  const brTag = `${plainTag.slice(0, -1)}-br"`;
  const notModified = await get({ 'accept-encoding': 'br', 'if-none-match': brTag });
  t.same([notModified.status, notModified.raw.length, notModified.headers.etag, notModified.headers.vary, notModified.headers['content-encoding']], [304, 0, brTag, 'accept-encoding', undefined], 'the br tag back: 304');
  t.equal((await get({ 'accept-encoding': 'br', 'if-none-match': plainTag })).status, 200, 'the plain tag asking for br: the br page');
  t.equal((await get({ 'if-none-match': brTag })).status, 200, 'the br tag asking for plain: the plain page');
  const small = await get({ 'accept-encoding': 'br' });
  const empty = await app.app.inject({ method: 'GET', url: '/snapshots', headers: { 'accept-encoding': 'br' } });
  t.same([empty.headers['content-encoding'], empty.headers.vary, empty.body], [undefined, 'accept-encoding', '{"items":[],"nextCursor":null}'], 'a page under 1 KiB goes plain');
  t.equal(small.headers['content-encoding'], 'br');
  t.equal((await app.inject('GET', '/vms', undefined, { 'accept-encoding': 'x'.repeat(1025) })).status, 422, 'an Accept-Encoding over 1024 characters is refused');
});
