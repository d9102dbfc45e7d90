// What file transfer and streamed stdin must do on every kind of guest, against a running VM:
// the Debian test runs it over OpenSSH, the busybox test over dropbear.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync, mkdirSync, symlinkSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Test } from 'tap';
import { Agent, request } from 'undici';
import { bangerBin, type TestDaemon } from './daemon.js';
import { readRssBytes } from '../../server/host/proc-memory.js';
import { execIn } from './exec.js';

export interface FileCheckOptions {
  /** The size of the big file sent and read back whole. */
  bigFileBytes: number;
  /** The environment `banger vm cp` and `banger vm exec -i` run in (without BANGER_URL and the like). */
  cliEnv: NodeJS.ProcessEnv;
}

const MiB = 1024 * 1024;

/** Random bytes in 1 MiB pieces, made as they are read, with their sha256 once all were read. */
function randomSource(bytes: number): { stream: Readable; sha256: () => string } {
  const hash = createHash('sha256');
  async function* pieces(): AsyncGenerator<Buffer> {
    for (let sent = 0; sent < bytes; sent += MiB) {
      const piece = randomBytes(Math.min(MiB, bytes - sent));
      hash.update(piece);
      yield piece;
    }
  }
  return { stream: Readable.from(pieces()), sha256: () => hash.digest('hex') };
}

export async function checkFiles(t: Test, daemon: TestDaemon, vm: string, options: FileCheckOptions): Promise<void> {
  // A PUT is answered once the whole file is in the guest: minutes for a big one under emulation.
  const agent = new Agent({ connect: { socketPath: daemon.socketPath }, headersTimeout: 20 * 60_000, bodyTimeout: 5 * 60_000 });
  t.teardown(() => agent.close());
  const filesUrl = (path: string, extra = '') => `http://banger/vms/${vm}/files?path=${encodeURIComponent(path)}${extra}`;
  const put = async (path: string, body: Readable | Buffer | string, type = 'application/octet-stream', extra = '') => {
    const response = await request(filesUrl(path, extra), { method: 'PUT', dispatcher: agent, headers: { 'content-type': type }, body });
    const text = await response.body.text();
    return { status: response.statusCode, body: text === '' ? undefined : JSON.parse(text) };
  };
  const sh = async (script: string) => (await execIn(daemon, vm, { command: ['sh', '-c', script] })).stdout.toString();

  // A big file streams in and out whole, and never sits in the daemon's memory.
  const pid = daemon.child.pid as number;
  const baseline = readRssBytes(pid);
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, readRssBytes(pid));
  }, 100);
  const big = randomSource(options.bigFileBytes);
  const putStarted = Date.now();
  const written = await put('/root/big.bin', big.stream, 'application/octet-stream', '&mode=0640');
  const putMs = Date.now() - putStarted;
  const sent = big.sha256();
  t.equal(written.status, 200, JSON.stringify(written.body));
  t.match(written.body, { path: '/root/big.bin', type: 'file', sizeBytes: options.bigFileBytes, sha256: sent, mode: '0640' });
  t.equal((await sh('sha256sum /root/big.bin')).split(' ')[0], sent, 'the guest holds the very bytes sent');
  const getStarted = Date.now();
  const read = await request(filesUrl('/root/big.bin'), { dispatcher: agent });
  const readHash = createHash('sha256');
  let readBytes = 0;
  for await (const chunk of read.body) {
    readHash.update(chunk as Buffer);
    readBytes += (chunk as Buffer).length;
  }
  const getMs = Date.now() - getStarted;
  clearInterval(sampler);
  t.equal(read.statusCode, 200);
  t.equal(read.headers['content-length'], String(options.bigFileBytes));
  t.equal(read.headers['x-banger-file-mode'], '0640');
  t.equal(readBytes, options.bigFileBytes);
  t.equal(readHash.digest('hex'), sent, 'and they come back the same');
  const mb = options.bigFileBytes / 1e6;
  const growth = peak - baseline;
  t.comment(`${(options.bigFileBytes / MiB).toFixed(0)} MiB: PUT ${(mb / (putMs / 1000)).toFixed(1)} MB/s, GET ${(mb / (getMs / 1000)).toFixed(1)} MB/s; daemon RSS ${(baseline / MiB).toFixed(0)} MiB, peak +${(growth / MiB).toFixed(0)} MiB`);
  // The heap breathes by tens of MiB anyway; a daemon that held the file would grow by all of it.
  t.ok(growth < 96 * MiB, `the daemon's memory grew by ${(growth / MiB).toFixed(0)} MiB, not by the file`);
  await sh('rm -f /root/big.bin');

  // Uploads one after another do not stall. A request could sit in the guest unread until more
  // bytes came down its port (one 64 MiB upload in three to five stopped, for minutes, at its start
  // or its end; bench/upload-stall.ts); the guest shell's pings end such a wait within seconds.
  const stallBoundMs = 30_000;
  const uploadMs: number[] = [];
  for (let round = 0; round < 12; round++) {
    const began = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<'stalled'>((resolve) => (timer = setTimeout(() => resolve('stalled'), stallBoundMs)));
    const written = await Promise.race([put(`/root/round-${round % 2}.bin`, randomBytes(2 * MiB)), stalled]);
    clearTimeout(timer);
    if (written === 'stalled' || written.status !== 200) {
      t.fail(`upload ${round + 1} of 12 (2 MiB): ${written === 'stalled' ? `no answer within ${stallBoundMs / 1000} s` : JSON.stringify(written.body)}`);
      break;
    }
    uploadMs.push(Date.now() - began);
  }
  t.equal(uploadMs.length, 12, `12 uploads of 2 MiB one after another, each within ${stallBoundMs / 1000} s (slowest ${Math.max(...uploadMs)} ms)`);
  await sh('rm -f /root/round-0.bin /root/round-1.bin');

  // A directory goes in as tar and comes back as tar, with modes and links.
  const local = mkdtempSync(join(tmpdir(), 'banger-files-'));
  t.teardown(() => rmSync(local, { recursive: true, force: true }));
  const tree = join(local, 'tree');
  mkdirSync(join(tree, 'sub', 'deep'), { recursive: true });
  writeFileSync(join(tree, 'secret.txt'), 'only root\n');
  chmodSync(join(tree, 'secret.txt'), 0o600);
  writeFileSync(join(tree, 'sub', 'run.sh'), '#!/bin/sh\necho ran\n');
  chmodSync(join(tree, 'sub', 'run.sh'), 0o755);
  chmodSync(join(tree, 'sub'), 0o750);
  symlinkSync('secret.txt', join(tree, 'link'));
  const archive = execFileSync('tar', ['-c', '-C', tree, '.']);
  const unpacked = await put('/root/proj/tree', archive, 'application/x-tar', '&mkdirs=true');
  t.match(unpacked, { status: 200, body: { path: '/root/proj/tree', type: 'directory', sizeBytes: archive.length } });
  t.equal(await sh('/root/proj/tree/sub/run.sh'), 'ran\n', 'an executable stays executable');
  t.equal(await sh('stat -c "%a %n" /root/proj/tree/secret.txt /root/proj/tree/sub; readlink /root/proj/tree/link'), '600 /root/proj/tree/secret.txt\n750 /root/proj/tree/sub\nsecret.txt\n');
  t.equal(await sh('ls -a /root/proj'), '.\n..\ntree\n', 'nothing left beside it');
  t.equal((await put('/root/proj/tree', archive, 'application/x-tar')).status, 200, 'a second copy merges into the directory');
  const tarBack = await request(filesUrl('/root/proj/tree'), { dispatcher: agent });
  t.equal(tarBack.headers['content-type'], 'application/x-tar');
  const back = join(local, 'back');
  mkdirSync(back);
  execFileSync('tar', ['-x', '-C', back], { input: Buffer.from(await tarBack.body.arrayBuffer()) });
  for (const path of ['secret.txt', 'sub', 'sub/run.sh', 'sub/deep']) {
    t.equal(statSync(join(back, path)).mode & 0o7777, statSync(join(tree, path)).mode & 0o7777, `${path}: mode kept both ways`);
  }
  t.equal(readFileSync(join(back, 'sub', 'run.sh'), 'utf8'), '#!/bin/sh\necho ran\n');
  t.equal(readlinkSync(join(back, 'link')), 'secret.txt');

  // The CLI does the same both ways, and streams stdin of any size.
  const cli = (args: string[], input?: Buffer) =>
    spawnSync(process.execPath, [bangerBin, '--socket', daemon.socketPath, ...args], { env: options.cliEnv, input, encoding: 'buffer', timeout: 300_000 });
  const cpIn = cli(['vm', 'cp', '--mkdirs', tree, `${vm}:/root/cli/tree`]);
  t.equal(cpIn.status, 0, `banger vm cp in: ${cpIn.stderr}`);
  const cpOut = cli(['vm', 'cp', `${vm}:/root/cli/tree`, join(local, 'cli-back')]);
  t.equal(cpOut.status, 0, `banger vm cp out: ${cpOut.stderr}`);
  const diff = spawnSync('diff', ['-r', '--no-dereference', tree, join(local, 'cli-back')], { encoding: 'utf8' });
  t.equal(diff.status, 0, `the tree came back the same: ${diff.stdout}`);
  t.equal(statSync(join(local, 'cli-back', 'secret.txt')).mode & 0o7777, 0o600, 'modes too');
  const stdin = randomBytes(3 * MiB);
  const hashed = cli(['vm', 'exec', vm, '-i', '--', 'sha256sum'], stdin);
  t.equal(hashed.stdout.toString().split(' ')[0], createHash('sha256').update(stdin).digest('hex'), 'banger vm exec -i streams stdin past the inline limit');
  await sh('rm -rf /root/cli');

  // What cannot be done is refused by name, and leaves nothing behind.
  const refusals: Array<[string, string, string, string, number, string]> = [
    ['relative', 'root/x', 'application/octet-stream', '', 422, 'validation-failed'],
    ['missing parent', '/root/no/such/x', 'application/octet-stream', '', 404, 'guest-path-not-found'],
    ['onto a directory', '/root/proj', 'application/octet-stream', '', 409, 'guest-path-conflict'],
    ['a tar onto a file', '/root/proj/tree/secret.txt', 'application/x-tar', '', 409, 'guest-path-conflict'],
    ['not a tar', '/root/proj/garbage', 'application/x-tar', '', 422, 'validation-failed'],
    ['a bad mode', '/root/x', 'application/octet-stream', '&mode=999', 422, 'validation-failed'],
    ['JSON', '/root/x', 'application/json', '', 415, 'unsupported-media-type'],
  ];
  for (const [what, path, type, extra, status, code] of refusals) {
    const res = await put(path, type === 'application/x-tar' ? 'not a tar archive at all '.repeat(50) : '{}', type, extra);
    t.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
    t.equal(res.body?.code, code, what);
  }
  t.equal(await sh('ls -a /root/proj; ls /root | grep -c banger-upload || true'), '.\n..\ntree\n0\n', 'no half-made files or directories');
  t.equal((await put('/root/made/on/demand.txt', 'x', 'application/octet-stream', '&mkdirs=true')).status, 200, 'mkdirs makes the parents');
  for (const [path, status, code] of [['/root/none', 404, 'guest-path-not-found'], ['/dev/null', 409, 'guest-path-conflict']] as const) {
    const res = await daemon.http('GET', `/vms/${vm}/files?path=${encodeURIComponent(path)}`);
    t.equal(res.status, status, `GET ${path}`);
    t.equal(res.body?.code, code);
  }

  // An upload that breaks off leaves the old file as it was.
  await put('/root/keep.txt', 'old content\n');
  await new Promise<void>((resolve) => {
    const half = request(filesUrl('/root/keep.txt'), {
      method: 'PUT',
      dispatcher: agent,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(4 * MiB) },
      body: Readable.from((async function* () {
        yield randomBytes(MiB);
        await new Promise((wait) => setTimeout(wait, 1000));
        throw new Error('the client gives up half-way');
      })()),
    });
    half.then(() => resolve(), () => resolve());
  });
  let leftovers = '';
  for (let i = 0; i < 20; i++) {
    leftovers = await sh('cat /root/keep.txt; ls -a /root | grep banger-upload || true');
    if (leftovers === 'old content\n') break;
    await new Promise((wait) => setTimeout(wait, 250));
  }
  t.equal(leftovers, 'old content\n', 'the old file stays whole and the partial one is gone');

  // A full guest filesystem is told as such, with nothing left on it.
  await sh('mkdir -p /mnt/small && mount -t tmpfs -o size=1m tmpfs /mnt/small');
  const full = await put('/mnt/small/too-big.bin', randomBytes(3 * MiB));
  t.equal(full.status, 507, JSON.stringify(full.body));
  t.equal(full.body?.code, 'guest-disk-full');
  t.equal(await sh('ls -a /mnt/small; umount /mnt/small'), '.\n..\n', 'and the partial file is removed');

  // Streamed stdin: input of any size, through a second request.
  const stdinBytes = 8 * MiB;
  const input = randomSource(stdinBytes);
  const exec = await request(`http://banger/vms/${vm}/exec`, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ command: ['sha256sum'], stdinStream: true, timeoutSeconds: 300 }),
  });
  t.equal(exec.statusCode, 200);
  const lines: any[] = [];
  let buffered = '';
  let execId: string | undefined;
  const reading = (async () => {
    for await (const chunk of exec.body) {
      buffered += (chunk as Buffer).toString();
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const event = JSON.parse(buffered.slice(0, newline));
        buffered = buffered.slice(newline + 1);
        lines.push(event);
        if (event.type === 'started') execId = event.execId;
      }
    }
  })();
  for (let i = 0; i < 100 && execId === undefined; i++) await new Promise((wait) => setTimeout(wait, 50));
  const stdinUrl = `http://banger/vms/${vm}/execs/${execId}/stdin`;
  const piped = await request(stdinUrl, { method: 'PUT', dispatcher: agent, headers: { 'content-type': 'application/octet-stream' }, body: input.stream });
  t.same(JSON.parse(await piped.body.text()), { execId, sizeBytes: stdinBytes }, 'the stdin request answers with the bytes passed');
  await reading;
  const output = lines.filter((event) => event.type === 'output').map((event) => event.data).join('');
  t.equal(output.split(' ')[0], input.sha256(), `${stdinBytes / MiB} MiB of stdin reached the program whole`);
  t.match(lines.at(-1), { type: 'exit', exitCode: 0 });
  const again = await request(stdinUrl, { method: 'PUT', dispatcher: agent, headers: { 'content-type': 'application/octet-stream' }, body: 'x' });
  t.equal(again.statusCode, 404, 'an exec that ended takes no more stdin');
  t.equal(JSON.parse(await again.body.text()).code, 'exec-not-found');
  const both = await execIn(daemon, vm, { command: ['cat'], stdin: 'x', stdinStream: true });
  t.equal(both.status, 422, 'inline stdin and streamed stdin together are refused');
}
