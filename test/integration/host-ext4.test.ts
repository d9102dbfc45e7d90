import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { allocatedBytes, copyFilePreferClone } from '../../server/host/copy.js';
import { isExt4, makeExt4, readFileFromExt4, seedAuthorizedKey, statInExt4 } from '../../server/host/ext4.js';
import { run, RunError } from '../../server/host/runner.js';
import { ensureSshIdentity, fingerprintOfPublicKey } from '../../server/host/ssh-key.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'banger-host-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** e2fsck -n exits 0 only when the filesystem needs no repair. */
async function fsckClean(image: string): Promise<boolean> {
  try {
    await run('e2fsck', ['-f', '-n', image]);
    return true;
  } catch (error) {
    if (error instanceof RunError) return false;
    throw error;
  }
}

async function readAt(path: string, offset: number, length: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, offset);
    return buffer;
  } finally {
    await handle.close();
  }
}

t.test('copyFilePreferClone keeps a sparse file sparse', async (t) => {
  const dir = await tempDir(t);
  const source = join(dir, 'source.img');
  const target = join(dir, 'target.img');
  const data = randomBytes(MiB);
  const dataOffset = 512 * MiB + 4096;

  const handle = await open(source, 'w');
  await handle.truncate(GiB);
  await handle.write(data, 0, data.length, dataOffset);
  await handle.close();

  await copyFilePreferClone(source, target);
  t.equal((await stat(target)).size, GiB, 'apparent size preserved');
  const allocated = await allocatedBytes(target);
  t.ok(allocated < 50 * MiB, `target allocates ${allocated} bytes`);
  t.ok(allocated >= MiB || allocated === 0, 'data blocks are allocated (or shared by a reflink)');
  t.same(await readAt(target, dataOffset, data.length), data, 'data identical at its offset');
  t.same(await readAt(target, 0, 4096), Buffer.alloc(4096), 'holes read as zeros');
});

t.test('copyFilePreferClone reports failures and honours cancellation', async (t) => {
  const dir = await tempDir(t);
  const error = await copyFilePreferClone(join(dir, 'missing'), join(dir, 'out')).catch((e: unknown) => e);
  t.ok(error instanceof RunError && error.reason === 'exit', 'missing source is an exit failure');
  t.match((error as RunError).message, /^cp exited with code 1: .*missing/);

  const cancelled = await copyFilePreferClone('/dev/zero', join(dir, 'out'), { signal: AbortSignal.timeout(200) }).catch(
    (e: unknown) => e,
  );
  t.ok(cancelled instanceof RunError && cancelled.reason === 'aborted', 'endless copy is cancelled');
});

t.test('isExt4', async (t) => {
  const dir = await tempDir(t);
  const image = join(dir, 'fs.img');
  await makeExt4(image, 32 * MiB, { label: 'work' });
  t.equal(await isExt4(image), true);
  t.ok(await allocatedBytes(image) < 16 * MiB, 'new image stays sparse');

  const random = join(dir, 'random.bin');
  const noise = randomBytes(2 * MiB);
  noise.writeUInt16LE(0x1234, 1080);
  await writeFile(random, noise);
  t.equal(await isExt4(random), false, 'random data');

  const tiny = join(dir, 'tiny');
  await writeFile(tiny, 'short');
  t.equal(await isExt4(tiny), false, 'file shorter than a superblock');
  t.equal(await isExt4(join(dir, 'absent')), false, 'missing file');
  t.equal(await isExt4(dir), false, 'directory');
});

t.test('makeExt4 from a directory, with label', async (t) => {
  const dir = await tempDir(t);
  const content = join(dir, 'content');
  await mkdir(join(content, 'etc'), { recursive: true });
  await writeFile(join(content, 'etc', 'hostname'), 'guest\n');
  const image = join(dir, 'root.img');
  await makeExt4(image, 64 * MiB, { fromDir: content, label: 'bangerroot' });

  t.equal(await readFileFromExt4(image, '/etc/hostname'), 'guest\n');
  const root = await statInExt4(image, '/');
  t.same(root && { type: root.type, uid: root.uid, gid: root.gid }, { type: 'dir', uid: 0, gid: 0 });
  const label = await run('e2label', [image]);
  t.equal(label.stdout.trim(), 'bangerroot');
  t.ok(await fsckClean(image));

  await t.rejects(makeExt4(join(dir, 'x.img'), 64 * MiB, { label: 'this-label-is-too-long' }), /label/);
  await t.rejects(makeExt4(join(dir, 'y.img'), 0), /size/);
});

t.test('makeExt4 failure removes the half-made image', async (t) => {
  const dir = await tempDir(t);
  const image = join(dir, 'broken.img');
  await t.rejects(makeExt4(image, 64 * MiB, { fromDir: join(dir, 'no-such-dir') }), RunError);
  await t.rejects(stat(image), { code: 'ENOENT' });
});

t.test('seedAuthorizedKey writes a root-owned key file and replaces it', async (t) => {
  const dir = await tempDir(t);
  const image = join(dir, 'work.img');
  await makeExt4(image, 32 * MiB, { label: 'work' });

  t.equal(await statInExt4(image, '/.ssh'), null, 'nothing there at first');
  await t.rejects(readFileFromExt4(image, '/.ssh/authorized_keys'), { code: 'ENOENT' });

  const first = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFirstKeyFirstKeyFirstKeyFirstKeyFirstKey first@test';
  await seedAuthorizedKey(image, `  ${first}\n`);

  t.same(await statInExt4(image, '/.ssh'), { mode: 0o700, uid: 0, gid: 0, type: 'dir' });
  t.same(await statInExt4(image, '/.ssh/authorized_keys'), { mode: 0o600, uid: 0, gid: 0, type: 'file' });
  t.equal(await readFileFromExt4(image, '/.ssh/authorized_keys'), `${first}\n`);
  t.ok(await fsckClean(image), 'filesystem consistent after seeding');

  const second = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAISecondKeySecondKeySecondKeySecondKey second@test';
  await seedAuthorizedKey(image, second);
  t.equal(await readFileFromExt4(image, '/.ssh/authorized_keys'), `${second}\n`, 'previous key replaced');
  t.same(await statInExt4(image, '/.ssh/authorized_keys'), { mode: 0o600, uid: 0, gid: 0, type: 'file' });
  t.ok(await fsckClean(image), 'filesystem consistent after re-seeding');

  await t.rejects(seedAuthorizedKey(image, 'two\nlines'), /single/);
  await t.rejects(seedAuthorizedKey(join(dir, 'absent.img'), first), /not an ext4 image/);
});

t.test('seedAuthorizedKey fixes loose permissions and foreign owners from the seed contents', async (t) => {
  const dir = await tempDir(t);
  const content = join(dir, 'content');
  await mkdir(join(content, '.ssh'), { recursive: true, mode: 0o755 });
  await writeFile(join(content, '.ssh', 'authorized_keys'), 'old-key\nanother-old-key\n', { mode: 0o644 });
  await writeFile(join(content, '.profile'), 'export A=1\n');
  const image = join(dir, 'seed.img');
  await makeExt4(image, 32 * MiB, { fromDir: content });
  await run('debugfs', ['-w', '-R', 'set_inode_field /.ssh uid 1000', image]);

  const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIThirdKeyThirdKeyThirdKeyThirdKeyThirdKey';
  await seedAuthorizedKey(image, key);
  t.same(await statInExt4(image, '/.ssh'), { mode: 0o700, uid: 0, gid: 0, type: 'dir' });
  t.equal(await readFileFromExt4(image, '/.ssh/authorized_keys'), `${key}\n`);
  t.equal(await readFileFromExt4(image, '/.profile'), 'export A=1\n', 'other seed content untouched');
  t.ok(await fsckClean(image));
});

t.test('seedAuthorizedKey refuses a /.ssh that is not a directory', async (t) => {
  const dir = await tempDir(t);
  const content = join(dir, 'content');
  await mkdir(content);
  await writeFile(join(content, '.ssh'), 'not a dir');
  const image = join(dir, 'seed.img');
  await makeExt4(image, 32 * MiB, { fromDir: content });

  await t.rejects(seedAuthorizedKey(image, 'ssh-ed25519 AAAA x'), /not a directory/);
  t.equal(await readFileFromExt4(image, '/.ssh'), 'not a dir', 'left alone');
  t.ok(await fsckClean(image));
});

t.test('statInExt4 and readFileFromExt4 edge cases', async (t) => {
  const dir = await tempDir(t);
  const content = join(dir, 'content');
  await mkdir(join(content, 'with space'), { recursive: true });
  await writeFile(join(content, 'with space', 'f'), 'spaced\n', { mode: 0o640 });
  await writeFile(join(content, 'empty'), '');
  const image = join(dir, 'fs.img');
  await makeExt4(image, 32 * MiB, { fromDir: content });

  t.equal(await readFileFromExt4(image, '/with space/f'), 'spaced\n', 'paths with spaces');
  t.equal((await statInExt4(image, '/with space/f'))?.mode, 0o640);
  t.equal(await readFileFromExt4(image, '/empty'), '', 'empty file is not an error');
  t.equal(await statInExt4(image, '/nope'), null);
  await t.rejects(readFileFromExt4(image, 'relative'), /absolute/);
  await t.rejects(readFileFromExt4(image, '/a"b'), /cannot be passed/);

  const notFs = join(dir, 'random.bin');
  await writeFile(notFs, randomBytes(MiB));
  await t.rejects(statInExt4(notFs, '/'), { code: 'EDEBUGFS' });
  await t.rejects(readFileFromExt4(notFs, '/x'), { code: 'EDEBUGFS' });
});

t.test('ensureSshIdentity', async (t) => {
  const dir = await tempDir(t);
  const identity = await ensureSshIdentity(dir);

  t.equal(identity.privateKeyPath, join(dir, 'ssh', 'id_ed25519'));
  t.equal(identity.publicKeyPath, join(dir, 'ssh', 'id_ed25519.pub'));
  t.equal((await stat(identity.privateKeyPath)).mode & 0o777, 0o600, 'private key is 0600');
  t.equal((await stat(join(dir, 'ssh'))).mode & 0o777, 0o700, 'ssh dir is 0700');
  t.match(identity.publicKey, /^ssh-ed25519 [A-Za-z0-9+/]+=* banger$/);
  t.equal(identity.publicKey, (await readFile(identity.publicKeyPath, 'utf8')).trim());

  const listed = await run('ssh-keygen', ['-lf', identity.publicKeyPath]);
  t.equal(identity.fingerprint, listed.stdout.trim().split(/\s+/)[1], 'matches ssh-keygen -lf');
  t.equal(fingerprintOfPublicKey(identity.publicKey), identity.fingerprint);

  const again = await ensureSshIdentity(dir);
  t.same(again, identity, 'second call reuses the key');

  await rm(identity.publicKeyPath);
  const rebuilt = await ensureSshIdentity(dir);
  t.equal(rebuilt.fingerprint, identity.fingerprint, 'public key rebuilt from the private key');
  t.equal((await readFile(identity.publicKeyPath, 'utf8')).trim().split(' ').slice(0, 2).join(' '),
    identity.publicKey.split(' ').slice(0, 2).join(' '));

  const files = (await run('ls', ['-A', join(dir, 'ssh')])).stdout.trim().split('\n').sort();
  t.same(files, ['id_ed25519', 'id_ed25519.pub'], 'no temporary files left behind');
});

t.test('fingerprintOfPublicKey matches ssh-keygen for other key types', async (t) => {
  const dir = await tempDir(t);
  for (const type of ['rsa', 'ecdsa', 'ed25519']) {
    const path = join(dir, `k-${type}`);
    await run('ssh-keygen', ['-t', type, '-N', '', '-C', 'c', '-f', path, '-q']);
    const line = (await readFile(`${path}.pub`, 'utf8')).trim();
    const listed = (await run('ssh-keygen', ['-lf', `${path}.pub`])).stdout.trim().split(/\s+/)[1];
    t.equal(fingerprintOfPublicKey(line), listed, type);
  }
  t.throws(() => fingerprintOfPublicKey('garbage'));
  t.throws(() => fingerprintOfPublicKey('ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIA=='), /does not match/);
});
