// Issue #11, items 4 and 6: the state dir and everything the daemon writes are its user's alone
// (an older, wider state dir is tightened at start); the TCP token can come from a private file;
// and the one-daemon-per-state-dir lock is one the kernel frees when its holder dies, so a restart
// right after kill -9 (even while the dead daemon is an unreaped zombie) is never refused.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, readdirSync, readFileSync, realpathSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { Agent, request } from 'undici';
import { debugfs } from '../helpers/api.js';
import { bangerBin, makeTempDir, serveUntilExit, startDaemon, tcpUrlOf, type TestDaemon, waitForJob } from '../helpers/daemon.js';
import { makeExt4Image, makeKernelFile } from '../helpers/ext4.js';
import { testCacheRoot } from '../helpers/guest.js';

const token = 'abcdef0123456789abcdef0123456789';
const files = await makeTempDir(t, 'banger-security-');
const kernel = makeKernelFile(files);

const mode = (path: string): string => (lstatSync(path).mode & 0o7777).toString(8).padStart(4, '0');

/** Every entry under dir (dir included, symlinks not followed) with group or world bits, but the API socket. */
function openToOthers(dir: string, socketPath: string): string[] {
  const found: string[] = [];
  const visit = (path: string) => {
    const info = lstatSync(path);
    if (info.isSymbolicLink() || path === socketPath) return;
    if ((info.mode & 0o077) !== 0) found.push(`${path} ${mode(path)}`);
    if (info.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  visit(dir);
  return found;
}

/** Neither world bits nor group write: what the issue asks of every file in the state dir. */
function assertPrivate(t: Test, path: string, what: string): void {
  t.ok(existsSync(path), `${what} exists: ${path}`);
  if (existsSync(path)) t.equal(lstatSync(path).mode & 0o027, 0, `${what} has no world bits and no group write (mode ${mode(path)})`);
}

/** `banger serve` as a child, without the helper's readiness check (see the zombie test). */
function spawnServe(t: Test, args: string[]) {
  const child = spawn(process.execPath, [bangerBin, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return {
    child,
    exited,
    output: () => output,
    async listening(timeoutMs = 30_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!output.includes('banger listening on unix socket')) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the daemon did not start listening; its output:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  };
}

async function healthOf(socketPath: string): Promise<number> {
  const agent = new Agent({ connect: { socketPath } });
  try {
    const res = await request('http://banger/healthz', { dispatcher: agent });
    await res.body.text();
    return res.statusCode;
  } finally {
    await agent.close();
  }
}

async function register(daemon: TestDaemon, name: string): Promise<any> {
  const dir = await makeTempDir(t, `banger-security-${name}-`);
  const res = await daemon.http('POST', '/images', { name, rootfsPath: makeExt4Image(join(dir, 'rootfs.ext4'), '16M'), kernelPath: kernel });
  if (res.status !== 201) throw new Error(`POST /images: ${res.status} ${res.text}`);
  return res.body;
}

async function promote(daemon: TestDaemon, name: string): Promise<any> {
  const res = await daemon.http('POST', `/images/${name}/promote`);
  if (res.status !== 202) throw new Error(`promote: ${res.status} ${res.text}`);
  const job = await waitForJob(daemon, res.body.id);
  if (job.status !== 'succeeded') throw new Error(`promote failed: ${JSON.stringify(job.error)}`);
  return (await daemon.http('GET', `/images/${name}`)).body;
}

async function tcpStatus(url: string, bearer: string): Promise<number> {
  const res = await request(`${url}/images`, { headers: { authorization: `Bearer ${bearer}` } });
  await res.body.text();
  return res.statusCode;
}

t.test('a new state dir and what the daemon writes in it are its user alone', async (t) => {
  const daemon = await startDaemon(t);
  const { stateDir } = daemon;
  const image = await promote(daemon, (await register(daemon, 'private')).name);

  t.equal(mode(stateDir), '0700', 'the state dir is 0700');
  assertPrivate(t, join(stateDir, 'banger.db'), 'the database');
  assertPrivate(t, join(stateDir, 'banger.db-wal'), 'its WAL');
  assertPrivate(t, join(stateDir, 'ssh', 'id_ed25519'), 'the SSH private key');
  assertPrivate(t, join(stateDir, 'banger.lock.key'), 'the lock key');
  assertPrivate(t, image.artifactDir, 'the artifact dir');
  t.ok(image.rootfsPath.startsWith(image.artifactDir), 'the rootfs was copied into the artifact dir');
  for (const name of readdirSync(image.artifactDir)) assertPrivate(t, join(image.artifactDir, name), 'a promoted artifact');
  t.same(openToOthers(stateDir, daemon.socketPath), [], 'nothing in the state dir is open to group or world (umask 077)');
  t.equal(mode(daemon.socketPath), '0660', 'the socket alone stays 0660, as chmod-ed');
  t.equal(await daemon.stop(), 0);
});

const kernelCache = join(testCacheRoot, 'kernels');
t.test(
  'a busybox build: its log is private, and the guest files keep their modes (the umask stays out of images)',
  { skip: existsSync(kernelCache) ? false : `no cached kernel in ${kernelCache} (a build would download one)` },
  async (t) => {
    const daemon = await startDaemon(t, { env: { BANGER_KERNEL_CACHE: kernelCache } });
    const res = await daemon.http('POST', '/images/builds', { name: 'bb', recipe: 'busybox' });
    t.equal(res.status, 202, 'the build is accepted');
    const job = await waitForJob(daemon, res.body.id, 10 * 60_000);
    t.equal(job.status, 'succeeded', JSON.stringify(job.error));
    assertPrivate(t, job.logPath, 'the build log');
    const image = (await daemon.http('GET', '/images/bb')).body;
    for (const path of [image.rootfsPath, image.workSeedPath, image.kernelPath, image.initrdPath]) assertPrivate(t, path, 'a built artifact');
    t.same(openToOthers(daemon.stateDir, daemon.socketPath), [], 'nothing in the state dir is open to group or world');

    const guestMode = (path: string) => /Mode:\s+(\d+)/.exec(debugfs(image.rootfsPath, `stat ${path}`).stdout)?.[1];
    for (const [path, expected] of [
      ['/', '0755'],
      ['/bin', '0755'],
      ['/etc', '0755'],
      ['/usr/sbin', '0755'],
      ['/srv/www/cgi-bin', '0755'],
      ['/etc/passwd', '0644'],
      ['/etc/shadow', '0600'],
      ['/etc/banger-release', '0644'],
      ['/usr/sbin/banger-agent', '0755'],
      ['/bin/busybox', '0755'],
      ['/tmp', '01777'],
    ] as const) {
      t.equal(guestMode(path), expected, `in the guest, ${path} is ${expected}`);
    }
    // The whole tree: what other guest users may not read is only what is meant to be private.
    const tree = await makeTempDir(t, 'banger-guest-tree-');
    debugfs(image.rootfsPath, `rdump / ${tree}`);
    const closed: string[] = [];
    const visit = (path: string) => {
      const info = lstatSync(path);
      if (info.isSymbolicLink()) return;
      const needed = info.isDirectory() ? 0o005 : 0o004;
      if ((info.mode & needed) !== needed) closed.push(path.slice(tree.length));
      if (info.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
    };
    for (const name of readdirSync(tree)) visit(join(tree, name));
    t.same(closed.sort(), ['/etc/dropbear', '/etc/shadow', '/lost+found', '/root'], 'in the guest, all but these are readable by every user');
    t.equal(await daemon.stop(), 0);
  },
);

t.test('a state dir an older banger left open (0755, 0644 files) is tightened at start', async (t) => {
  const first = await startDaemon(t);
  const { stateDir } = first;
  const image = await promote(first, (await register(first, 'older')).name);
  t.equal(await first.stop(), 0);

  // What the older daemon left behind: a umask 022 tree, and then some.
  chmodSync(stateDir, 0o755);
  const widened: string[] = [];
  const widen = (path: string) => {
    const info = lstatSync(path);
    if (info.isSymbolicLink()) return;
    chmodSync(path, info.isDirectory() ? 0o755 : 0o644);
    widened.push(path);
    if (info.isDirectory()) for (const name of readdirSync(path)) widen(join(path, name));
  };
  for (const name of readdirSync(stateDir)) widen(join(stateDir, name));
  const worldWritable = join(stateDir, 'image-build-note.txt');
  writeFileSync(worldWritable, 'left by hand\n');
  chmodSync(worldWritable, 0o666);
  // A symlink to a file outside: neither followed nor changed.
  const outside = join(files, 'outside.txt');
  writeFileSync(outside, 'not the daemon\'s\n');
  chmodSync(outside, 0o644);
  symlinkSync(outside, join(stateDir, 'link-to-outside'));
  t.equal(mode(join(stateDir, 'banger.db')), '0644', 'the database starts out 0644');

  const second = await startDaemon(t, { stateDir });
  t.equal(mode(stateDir), '0700', 'the state dir is 0700 again');
  t.equal(mode(join(stateDir, 'banger.db')), '0600', 'the database is 0600');
  t.equal(mode(join(image.artifactDir, 'rootfs.ext4')), '0600', 'an artifact is 0600');
  t.equal(mode(join(stateDir, 'images')), '0700', 'a dir is 0700');
  t.equal(mode(worldWritable), '0600', 'a world-writable file is 0600');
  t.equal(mode(outside), '0644', 'the file a symlink points to is left alone');
  t.same(openToOthers(stateDir, second.socketPath), [], 'nothing in the state dir is open to group or world');
  const warning = second
    .output()
    .split('\n')
    .find((line) => line.includes('the state dir was open to other users'));
  t.ok(warning, 'the start says so');
  t.ok(JSON.parse(warning ?? '{}').entries >= widened.length, `and counts the entries (${warning})`);
  t.equal((await second.http('GET', '/images/older')).status, 200, 'and the daemon works on the tightened state');
  t.equal(await second.stop(), 0);

  const third = await startDaemon(t, { stateDir });
  t.notMatch(third.output(), /the state dir was open to other users/, 'a private state dir is not reported again');
  t.equal(await third.stop(), 0);
});

t.test('--token-file: a private file works, an open one is refused; --token warns', async (t) => {
  const dir = await makeTempDir(t, 'banger-token-');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${token}\n`);
  chmodSync(tokenFile, 0o644);

  const stateDir = await makeTempDir(t, 'banger-state-');
  const refused = await serveUntilExit(['--state-dir', stateDir, '--listen', '127.0.0.1:0', '--token-file', tokenFile]);
  t.not(refused.code, 0, 'a 0644 token file: the daemon does not start');
  t.match(refused.output, `the token file ${tokenFile} is open to other users (mode 0644); make it private: chmod 600 ${tokenFile}`);
  const viaEnv = await serveUntilExit(['--state-dir', stateDir, '--listen', '127.0.0.1:0'], { BANGER_TOKEN_FILE: tokenFile });
  t.not(viaEnv.code, 0, 'through BANGER_TOKEN_FILE too');
  t.match(viaEnv.output, /chmod 600/);
  const both = await serveUntilExit(['--state-dir', stateDir, '--listen', '127.0.0.1:0', '--token-file', tokenFile, '--token', token]);
  t.not(both.code, 0);
  t.match(both.output, /--token and --token-file are alternatives/);

  chmodSync(tokenFile, 0o600);
  const daemon = await startDaemon(t, { args: ['--listen', '127.0.0.1:0', '--token-file', tokenFile] });
  const url = await tcpUrlOf(daemon);
  t.equal(await tcpStatus(url, token), 200, "TCP answers the file's token");
  t.equal(await tcpStatus(url, `${token}x`), 401, 'and refuses another');
  t.notMatch(daemon.output(), /cmdline/, 'no warning: the token is not on the command line');
  t.notOk(readFileSync(`/proc/${daemon.child.pid}/cmdline`, 'utf8').includes(token), 'the token is not in /proc/PID/cmdline');

  const onCommandLine = await startDaemon(t, { args: ['--listen', '127.0.0.1:0', '--token', token] });
  const warning = onCommandLine
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line))
    .find((entry) => /cmdline/.test(entry.msg));
  t.ok(warning, '--token on the command line is warned about');
  t.equal(warning?.level, 40, 'at level warn');
  t.match(warning?.msg, /--token-file/, 'naming the alternative');
  t.equal(await tcpStatus(await tcpUrlOf(onCommandLine), token), 200, 'and still works');
  t.equal(await onCommandLine.stop(), 0);
  t.equal(await daemon.stop(), 0);
});

t.test('kill -9, then a restart on the same state dir at once', async (t) => {
  const first = await startDaemon(t);
  await first.crash();
  const started = Date.now();
  const second = await startDaemon(t, { stateDir: first.stateDir });
  const took = Date.now() - started;
  t.notMatch(second.output(), /already running/);
  t.equal((await second.http('GET', '/healthz')).status, 200, `the restart listens (${took} ms)`);
  t.equal(await second.stop(), 0);
});

t.test('while the killed daemon is still an unreaped zombie, a restart is not refused', async (t) => {
  const stateDir = await makeTempDir(t, 'banger-state-');
  // perl forks the daemon and never waits for it: once killed, it stays a zombie while perl sleeps.
  const script = '$| = 1; $pid = fork(); if ($pid == 0) { open(STDOUT, ">", "/dev/null"); exec @ARGV or die "exec: $!" } print "$pid\\n"; sleep 120';
  const parent = spawn('perl', ['-e', script, process.execPath, bangerBin, 'serve', '--state-dir', stateDir], { stdio: ['ignore', 'pipe', 'ignore'] });
  let daemonPid: number | undefined;
  t.teardown(() => {
    if (daemonPid !== undefined && existsSync(`/proc/${daemonPid}`)) process.kill(daemonPid, 'SIGKILL');
    parent.kill('SIGKILL');
  });
  const pid = await new Promise<number>((resolve, reject) => {
    let text = '';
    parent.stdout.on('data', (chunk) => {
      text += chunk;
      const line = /^(\d+)\n/.exec(text);
      if (line) resolve(Number(line[1]));
    });
    parent.once('exit', () => reject(new Error(`perl exited before forking: ${text}`)));
  });
  daemonPid = pid;
  const socketPath = join(stateDir, 'banger.sock');
  const deadline = Date.now() + 30_000;
  while (!existsSync(socketPath) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  t.ok(existsSync(socketPath), `the daemon (pid ${pid}) listens`);

  process.kill(pid, 'SIGKILL');
  const state = () => /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  while (state() !== 'Z' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  t.equal(state(), 'Z', `pid ${pid} is a zombie: dead, not reaped`);

  // Started at once. Its readiness is its own log line: until the dead daemon's last thread has
  // exited, its old socket still takes connections (and its lock is still held).
  const started = Date.now();
  const second = spawnServe(t, ['--state-dir', stateDir]);
  await second.listening();
  t.pass(`the restart beside the zombie listens after ${Date.now() - started} ms`);
  t.equal(state(), 'Z', 'while the zombie is still there');
  t.equal(await healthOf(socketPath), 200, 'and answers');
  t.notMatch(second.output(), /already running/);
  second.child.kill('SIGTERM');
  t.equal(await second.exited, 0);
});

t.test('two daemons on one state dir: the second is refused, naming the first', async (t) => {
  const daemon = await startDaemon(t);
  const intruder = await serveUntilExit(['--state-dir', daemon.stateDir]);
  t.not(intruder.code, 0, 'the second daemon exits non-zero');
  t.match(intruder.output, `another banger daemon (pid ${daemon.child.pid}) is already running with the state dir ${daemon.stateDir}`);
  t.equal((await daemon.http('GET', '/healthz')).status, 200, 'the first one is undisturbed');
  t.same(JSON.parse(readFileSync(join(daemon.stateDir, 'banger.lock'), 'utf8')), { pid: daemon.child.pid }, 'banger.lock names the holder, for humans');
  t.equal(await daemon.stop(), 0);
  t.notOk(existsSync(join(daemon.stateDir, 'banger.lock')), 'and goes when it stops');
});

t.test('two daemons started at once on a new state dir: exactly one runs', async (t) => {
  const stateDir = await makeTempDir(t, 'banger-state-');
  const children = [0, 1].map(() => {
    const child = spawn(process.execPath, [bangerBin, 'serve', '--state-dir', stateDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    return { child, exited, output: () => output };
  });
  t.teardown(() => {
    for (const { child } of children) if (child.exitCode === null) child.kill('SIGKILL');
  });
  const loser = await Promise.race(children.map(async (entry) => (await entry.exited, entry)));
  const winner = children.find((entry) => entry !== loser);
  t.match(loser.output(), /another banger daemon \(pid \d+\) is already running/, 'one is refused, naming the other');
  const socketPath = join(stateDir, 'banger.sock');
  const deadline = Date.now() + 30_000;
  while (!existsSync(socketPath) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  t.ok(existsSync(socketPath) && winner?.child.exitCode === null, 'the other runs');
  t.match(readFileSync(join(stateDir, 'banger.lock.key'), 'utf8'), /^[0-9a-f]{64}\n$/, 'one lock key, written whole');
  winner?.child.kill('SIGTERM');
  t.equal(await winner?.exited, 0);
});

t.test("the lock's name cannot be guessed: a squatter on the obvious name does not keep the daemon out", async (t) => {
  const stateDir = await makeTempDir(t, 'banger-state-');
  const squatter = createServer();
  const obvious = `\0banger-state-${createHash('sha256').update(realpathSync(stateDir)).digest('hex')}`;
  await new Promise<void>((resolve) => squatter.listen({ path: obvious }, resolve));
  t.teardown(() => new Promise<void>((resolve) => squatter.close(() => resolve())));
  const daemon = await startDaemon(t, { stateDir });
  t.equal((await daemon.http('GET', '/healthz')).status, 200);
  t.equal(mode(join(stateDir, 'banger.lock.key')), '0600', 'the key naming the lock is private');
  t.ok(statSync(stateDir).isDirectory());
  t.equal(await daemon.stop(), 0);
});
