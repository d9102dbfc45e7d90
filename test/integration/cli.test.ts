import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import t from 'tap';
import { bangerBin, makeTempDir, startDaemon, tcpUrlOf } from '../helpers/daemon.js';
import { makeExt4Image, makeKernelFile } from '../helpers/ext4.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The built CLI, run like a user would (no shell), and never aimed at a daemon by the environment. */
function banger(args: string[], options: { cwd?: string } = {}): Promise<Run> {
  const env = { ...process.env };
  for (const name of ['BANGER_URL', 'BANGER_TOKEN', 'BANGER_SOCKET', 'BANGER_STATE_DIR']) delete env[name];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [bangerBin, ...args], { cwd: options.cwd, env, timeout: 120_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
    });
  });
}


const promoteLines = [
  /^✓ copy_rootfs +\d+\.\ds$/,
  /^– copy_work_seed +skipped: the image has no work seed$/,
  /^– seed_ssh_key +skipped: the image has no work seed$/,
  /^– write_metadata +skipped: the image has no packages manifest$/,
  /^✓ activate_artifacts +\d+\.\ds$/,
];

function stageLines(stdout: string): string[] {
  return stdout.split('\n').filter((line) => /^[✓–✗] /.test(line));
}

t.test('help and usage need no daemon', async (t) => {
  const top = await banger(['--help']);
  t.equal(top.code, 0);
  for (const word of ['serve', 'image', 'job', '--socket', '--url', '--json', 'Examples:']) t.match(top.stdout, word);

  const image = await banger(['image', '--help']);
  t.equal(image.code, 0);
  for (const word of ['ls', 'show', 'register', 'promote', 'rm']) t.match(image.stdout, new RegExp(`^  ${word}\\b`, 'm'));

  const jobs = await banger(['job', '--help']);
  for (const word of ['ls', 'show', 'wait', 'cancel']) t.match(jobs.stdout, new RegExp(`^  ${word}\\b`, 'm'));

  const promote = await banger(['image', 'promote', '--help']);
  t.match(promote.stdout, '--no-wait');
  t.match(promote.stdout, '$ banger image promote');
  t.match(promote.stdout, 'Global Options:');

  const serve = await banger(['serve', '--help']);
  t.equal(serve.code, 0);
  for (const word of ['--state-dir', '--socket', '--listen', '--token', 'BANGER_STATE_DIR', 'BANGER_SOCKET', 'BANGER_LISTEN', 'BANGER_TOKEN']) {
    t.match(serve.stdout, word);
  }

  const missing = await banger(['image', 'register', 'x']);
  t.equal(missing.code, 2, 'a missing required option is a usage error');
  t.match(missing.stderr, '--rootfs');
  t.equal((await banger(['job', 'ls', '--status', 'bogus'])).code, 2);
  t.equal((await banger(['frobnicate'])).code, 2);
  t.equal((await banger([])).code, 2, 'no command at all');
  const noToken = await banger(['--url', 'http://127.0.0.1:7070', 'image', 'ls']);
  t.equal(noToken.code, 2);
  t.match(noToken.stderr, /^error: --url needs --token/m);
});

t.test('a daemon that is not running is named, with how to start it', async (t) => {
  const socket = join(await makeTempDir(t), 'banger.sock');
  const result = await banger(['--socket', socket, 'image', 'ls']);
  t.equal(result.code, 1);
  t.match(result.stderr, `error: the banger daemon is not running at ${socket}`);
  t.match(result.stderr, 'banger serve');
});

t.test('against a real daemon', async (t) => {
  const token = randomBytes(16).toString('hex');
  const daemon = await startDaemon(t, { args: ['--listen', '127.0.0.1:0', '--token', token] });
  const dir = await makeTempDir(t);
  makeExt4Image(join(dir, 'rootfs.ext4'), '32M');
  makeKernelFile(dir);
  const cli = (...args: string[]) => banger(['--socket', daemon.socketPath, ...args], { cwd: dir });

  t.test('register takes paths relative to the cwd; ls and show list it', async (t) => {
    const registered = await cli('image', 'register', 'one', '--rootfs', 'rootfs.ext4', '--kernel', './vmlinuz');
    t.equal(registered.code, 0, registered.stderr);
    t.match(registered.stdout, /^image one registered \(id [0-9a-f]+, unmanaged\)$/m);
    t.match((await cli('image', 'register', 'one', '--rootfs', 'rootfs.ext4', '--kernel', 'vmlinuz')).stdout, 'image one updated');

    const list = await cli('image', 'ls');
    t.equal(list.code, 0);
    const [header, row] = list.stdout.trimEnd().split('\n');
    t.match(header, /^NAME +ID +MANAGED +ROOTFS +UPDATED$/);
    t.match(row, new RegExp(`^one +[0-9a-f]+ +no +${join(dir, 'rootfs.ext4')} +\\d{4}-\\d\\d-\\d\\d `));

    const json = await cli('--json', 'image', 'ls');
    const images = JSON.parse(json.stdout) as Array<{ name: string; rootfsPath: string; kernelPath: string }>;
    t.same(images.map((image) => image.name), ['one']);
    t.equal(images[0]?.rootfsPath, join(dir, 'rootfs.ext4'), 'sent as an absolute path');
    t.equal(images[0]?.kernelPath, join(dir, 'vmlinuz'));

    const show = await cli('image', 'show', 'one');
    t.match(show.stdout, /^managed: +no$/m);
    t.match(show.stdout, new RegExp(`^rootfs: +${join(dir, 'rootfs.ext4')}$`, 'm'));
  });

  t.test('global options work after a command\'s own options', async (t) => {
    const result = await banger(['image', 'register', 'two', '--rootfs', 'rootfs.ext4', '--kernel', 'vmlinuz', '--json', '--socket', daemon.socketPath], { cwd: dir });
    t.equal(result.code, 0, result.stderr);
    t.match(JSON.parse(result.stdout), { name: 'two', managed: false });
  });

  t.test('promote prints each stage as a plain line, then a summary', async (t) => {
    const result = await cli('image', 'promote', 'one');
    t.equal(result.code, 0, result.stderr);
    t.notMatch(result.stdout, '\x1b', 'no escape codes when stdout is not a terminal');
    const lines = stageLines(result.stdout);
    t.equal(lines.length, promoteLines.length, result.stdout);
    promoteLines.forEach((pattern, i) => t.match(lines[i], pattern));
    t.match(result.stdout, /^image one promoted in \d+\.\ds$/m);
    t.match((await cli('image', 'show', 'one')).stdout, /^managed: +yes \(/m);
  });

  t.test('promoting a managed image fails with error and hint', async (t) => {
    const result = await cli('image', 'promote', 'one');
    t.equal(result.code, 1);
    t.match(result.stderr, /^error: Image one is already managed/m);
    t.match(result.stderr, /^hint: only unmanaged/m);
  });

  t.test('--json with waiting prints only the finished job', async (t) => {
    const result = await cli('--json', 'image', 'promote', 'two');
    t.equal(result.code, 0, result.stderr);
    t.match(JSON.parse(result.stdout), { kind: 'image.promote', status: 'succeeded', target: { name: 'two' } });
  });

  t.test('--no-wait prints the job id; job wait follows it; job show and ls find it', async (t) => {
    t.equal((await cli('image', 'register', 'three', '--rootfs', 'rootfs.ext4', '--kernel', 'vmlinuz')).code, 0);
    const started = await cli('image', 'promote', 'three', '--no-wait');
    t.equal(started.code, 0, started.stderr);
    t.match(started.stdout, /^[0-9a-f]{16}\n$/);
    const id = started.stdout.trim();

    const waited = await cli('job', 'wait', id);
    t.equal(waited.code, 0, waited.stderr);
    t.equal(stageLines(waited.stdout).length, promoteLines.length, waited.stdout);
    t.match(waited.stdout, /^image three promoted in /m);

    const show = await cli('job', 'show', id);
    t.match(show.stdout, /^status: +succeeded$/m);
    t.match(show.stdout, /^ {2}✓ copy_rootfs/m);

    const list = await cli('job', 'ls');
    t.match(list.stdout, /^ID +KIND +TARGET +STATUS +PROGRESS +CREATED$/m);
    t.match(list.stdout, new RegExp(`^${id} +image\\.promote +image three +succeeded +100%`, 'm'));
    t.equal(JSON.parse((await cli('--json', 'job', 'ls', '--kind', 'image.promote')).stdout).length, 3);
    t.match((await cli('job', 'ls', '--status', 'failed')).stdout, /^no jobs$/m);

    const cancel = await cli('job', 'cancel', id);
    t.equal(cancel.code, 1, 'a finished job cannot be cancelled');
    t.match(cancel.stderr, /^error: Job [0-9a-f]+ already succeeded/m);
    t.match(cancel.stderr, /^hint: /m);
  });

  t.test('--no-wait --json prints the job', async (t) => {
    t.equal((await cli('image', 'register', 'four', '--rootfs', 'rootfs.ext4', '--kernel', 'vmlinuz')).code, 0);
    const started = await cli('--json', 'image', 'promote', 'four', '--no-wait');
    t.equal(started.code, 0);
    const job = JSON.parse(started.stdout) as { id: string; kind: string };
    t.equal(job.kind, 'image.promote');
    t.equal((await cli('--json', 'job', 'wait', job.id)).code, 0);
  });

  t.test('a missing rootfs names the field', async (t) => {
    const result = await cli('image', 'register', 'ghost', '--rootfs', 'missing.ext4', '--kernel', 'vmlinuz');
    t.equal(result.code, 1);
    t.match(result.stderr, /^error: Cannot register image ghost/m);
    t.match(result.stderr, new RegExp(`^ {2}rootfsPath: rootfs image ${join(dir, 'missing.ext4')} does not exist$`, 'm'));
    t.match(result.stderr, /^hint: /m);
  });

  t.test('rm deletes; show then fails', async (t) => {
    const removed = await cli('image', 'rm', 'one');
    t.equal(removed.code, 0);
    t.match(removed.stdout, /^image one deleted; its files in .+ were removed$/m);
    const show = await cli('image', 'show', 'one');
    t.equal(show.code, 1);
    t.match(show.stderr, /^error: No image with id or name "one"$/m);
  });

  t.test('over TCP with --url and --token', async (t) => {
    const url = await tcpUrlOf(daemon);
    const ok = await banger(['--url', url, '--token', token, 'image', 'ls']);
    t.equal(ok.code, 0, ok.stderr);
    t.match(ok.stdout, /^two /m);
    const denied = await banger(['--url', url, '--token', 'not-the-right-token', 'image', 'ls']);
    t.equal(denied.code, 1);
    t.match(denied.stderr, /^error: The bearer token is not valid$/m);
    t.match(denied.stderr, /^hint: /m);
  });
});
