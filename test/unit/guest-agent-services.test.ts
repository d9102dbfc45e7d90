import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { formatAgentRequest, parseAgentReply, queryAgent, type GuestServiceStatus } from '../../server/guest/agent-protocol.js';
import { guestFiles } from '../../server/guest/guest-files.js';
import { run } from '../../server/host/runner.js';
import { unixSocketTransport } from '../../server/hypervisor/unix-socket-transport.js';
import { agentOverSocket, agentSandbox, agentShells, shellSkip, type AgentShell } from '../helpers/agent-sandbox.js';

// The services request (agent version 4) and banger-service, the runner whose files it reads
// (docs/guest-agent.md, "Services").

const service = (change: Partial<GuestServiceStatus> = {}): GuestServiceStatus => ({
  name: 'web',
  state: 'running',
  port: 8080,
  listening: true,
  exitStatus: null,
  logTail: null,
  ...change,
});

const servicesLine = (services: unknown, id = 's'): string => JSON.stringify({ ok: true, id, services });

t.test('services: request format and reply parsing', async (t) => {
  t.equal(formatAgentRequest('services', 's1'), 'services s1\n');
  t.throws(() => formatAgentRequest('services', 'bad id'), /id/);

  const valid = [
    service(),
    service({ name: 'a', state: 'exited', port: null, listening: null, exitStatus: 3, logTail: 'one "two"\n\\three' }),
    service({ name: `w${'-9'.repeat(15)}x`, state: 'exited', port: 1, listening: false, exitStatus: null, logTail: '' }),
    service({ name: 'never', state: 'not_started', port: 65_535, listening: false }),
    service({ name: 'zero', state: 'exited', exitStatus: 0, logTail: '' }),
    service({ name: 'signalled', state: 'exited', exitStatus: 255, logTail: 'x' }),
  ];
  t.same(parseAgentReply('services', servicesLine(valid)), { ok: true, id: 's', services: valid });
  t.same(parseAgentReply('services', servicesLine([])), { ok: true, id: 's', services: [] }, 'no services');
  t.same(parseAgentReply('services', '{"ok":true,"services":[]}'), { ok: true, services: [] }, 'no id');
  const many = Array.from({ length: 256 }, (_, index) => service({ name: `s${index}` }));
  t.equal(parseAgentReply('services', servicesLine(many))?.ok, true, '256 services');
  t.same(parseAgentReply('services', '{"ok":false,"id":"s","error":"unknown request"}'), { ok: false, id: 's', error: 'unknown request' }, 'an older agent');

  const malformed: [string, unknown][] = [
    ['257 services', [...many, service({ name: 'one-more' })]],
    ['an entry that is no object', [service(), 'web']],
    ['null entry', [null]],
    ['an array entry', [[]]],
    ['uppercase name', [service({ name: 'Web' })]],
    ['name starting with a digit', [service({ name: '1web' })]],
    ['name starting with a hyphen', [service({ name: '-web' })]],
    ['name with an underscore', [service({ name: 'my_web' })]],
    ['33-character name', [service({ name: 'a'.repeat(33) })]],
    ['empty name', [service({ name: '' })]],
    ['numeric name', [service({ name: 1 as unknown as string })]],
    ['unknown state', [service({ state: 'stopped' as GuestServiceStatus['state'] })]],
    ['port 0', [service({ port: 0 })]],
    ['port 65536', [service({ port: 65_536 })]],
    ['fractional port', [service({ port: 80.5 })]],
    ['port as a string', [service({ port: '80' as unknown as number })]],
    ['listening as a string', [service({ listening: 'yes' as unknown as boolean })]],
    ['exit status 256', [service({ exitStatus: 256 })]],
    ['exit status -1', [service({ exitStatus: -1 })]],
    ['fractional exit status', [service({ exitStatus: 1.5 })]],
    ['exit status as a string', [service({ exitStatus: '3' as unknown as number })]],
    ['logTail as a number', [service({ logTail: 3 as unknown as string })]],
    ['logTail longer than 20 lines of 300 bytes', [service({ state: 'exited', exitStatus: 1, logTail: 'x'.repeat(20 * 301) })]],
  ];
  for (const [what, services] of malformed) t.equal(parseAgentReply('services', servicesLine(services)), null, what);
  for (const field of ['name', 'state', 'port', 'listening', 'exitStatus', 'logTail'] as const) {
    const { [field]: _left, ...rest } = service();
    t.equal(parseAgentReply('services', servicesLine([rest])), null, `without ${field}`);
  }
  t.equal(parseAgentReply('services', '{"ok":true,"id":"s"}'), null, 'no services field');
  t.equal(parseAgentReply('services', '{"ok":true,"id":"s","services":{}}'), null, 'services not an array');
  t.equal(parseAgentReply('services', '{"ok":true,"id":"s","services":null}'), null, 'services null');
  t.equal(parseAgentReply('services', '{"ok":true,"id":"s"}\n'.slice(0, 10)), null, 'a cut line');
});

t.test('queryAgent takes a services reply of megabytes', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'banger-agent-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'agent.sock');
  // The most the agent sends: 256 ended services, each with 20 lines of 300 bytes that all need escaping.
  const tail = Array.from({ length: 20 }, () => '"'.repeat(300)).join('\n');
  const services = Array.from({ length: 256 }, (_, index) => service({ name: `s${index}`, state: 'exited', exitStatus: 1, logTail: tail }));
  const server = createServer((socket) => {
    socket.on('error', () => {});
    socket.setEncoding('utf8').once('data', (line: string) => socket.write(`${servicesLine(services, line.split(' ')[1]?.trim())}\n`));
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  t.ok(servicesLine(services).length > 3_000_000, 'over 3 MB');
  const reply = await queryAgent(unixSocketTransport(path), { command: 'services', timeoutMs: 10_000 });
  t.equal(reply.services.length, 256);
  t.equal(reply.services[255]?.logTail, tail);
});

/**
 * A directory of busybox applets to put first in PATH, so that the busybox shell runs with
 * busybox's tail, cut, tr and awk (and the runner with its su), as in a busybox guest; with
 * only: nothing else, so that no setpriv is found either.
 */
async function busyboxBin(t: Test, applets: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'banger-busybox-bin-'));
  // A service's user runs these too.
  await chmod(dir, 0o755);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const busybox = spawnSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).stdout.trim();
  for (const applet of applets) await symlink(busybox, join(dir, applet));
  return dir;
}

const AGENT_APPLETS = ['tail', 'cut', 'tr', 'awk'];
const RUNNER_APPLETS = ['mkdir', 'rm', 'mv', 'cat', 'setsid', 'su', 'id', 'sleep'];

async function shellEnv(t: Test, shell: AgentShell, env: NodeJS.ProcessEnv): Promise<NodeJS.ProcessEnv> {
  if (shell[0] !== 'busybox') return env;
  return { ...env, PATH: `${await busyboxBin(t, [...AGENT_APPLETS, ...RUNNER_APPLETS])}:${env.PATH ?? ''}` };
}

async function handleAll(shell: AgentShell, env: NodeJS.ProcessEnv, requests: string[]): Promise<{ lines: string[]; stderr: string }> {
  const [command, ...prefix] = shell;
  const script = 'exec 3>&1; . "$1"; shift; for request in "$@"; do handle "$request"; done';
  const result = await run(command, [...prefix, '-c', script, 'agent-test', guestFiles.agent, ...requests], { env, timeoutMs: 20_000 });
  return { lines: result.stdout.split('\n').filter(Boolean), stderr: result.stderr };
}

/** Gone, or a zombie nobody reaped: either way it runs no more. */
function processGone(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return true;
  }
  return /^[ZX]/.test(stat.slice(stat.lastIndexOf(') ') + 2));
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface Runner {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

/** Starts banger-service NAME on a sandbox root: under the given shell, or through its #! line (so that its comm is banger-service). */
function startRunner(t: Test, root: string, args: string[], options: { shell?: AgentShell; env?: NodeJS.ProcessEnv } = {}): Runner {
  const env = { ...(options.env ?? process.env), BANGER_SERVICE_ROOT: root };
  const [shell, ...prefix] = options.shell ?? [guestFiles.serviceRunner];
  // Found in this process's PATH: env's may hold busybox applets only.
  const command = options.shell ? spawnSync('sh', ['-c', `command -v ${shell}`], { encoding: 'utf8' }).stdout.trim() : shell;
  const child = spawn(command, options.shell ? [...prefix, guestFiles.serviceRunner, ...args] : args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  });
  return { child, exited, stderr: () => stderr };
}

async function defineService(root: string, name: string, files: { command?: string; user?: string; port?: number }): Promise<void> {
  const dir = join(root, 'etc/banger/services', name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'command'), files.command ?? 'true');
  if (files.user !== undefined) await writeFile(join(dir, 'user'), `${files.user}\n`);
  if (files.port !== undefined) await writeFile(join(dir, 'port'), `${files.port}\n`);
}

/** What logTail makes of a log's lines: the last 20, each cut to 300 bytes, control characters dropped and tabs made spaces. */
function expectedTail(lines: string[]): string {
  return lines
    .slice(-20)
    .map((line) =>
      line
        .slice(0, 300)
        .replace(/[\x00-\x08\x0b-\x1f]/g, '')
        .replaceAll('\t', ' '),
    )
    .join('\n');
}

for (const shell of agentShells) {
  const name = shell.join(' ');

  t.test(`agent reports the image's services under ${name}`, { skip: shellSkip(shell) }, async (t) => {
    const box = await agentSandbox(t, { netTables: true });
    const env = await shellEnv(t, shell, box.env);
    const root = box.root;
    const runDir = join(root, 'run/banger/services');
    const logDir = join(root, 'var/log/banger');
    await mkdir(runDir, { recursive: true });
    await mkdir(logDir, { recursive: true });

    // Running: the real runner, so that the process behind web.pid is called banger-service.
    await defineService(root, 'web', { command: 'sleep 30', port: 8080 });
    const web = startRunner(t, root, ['web']);
    await waitFor('web.pid', () => existsSync(join(runDir, 'web.pid')) && /^\d+\n$/.test(readFileSync(join(runDir, 'web.pid'), 'utf8')));
    const webPid = readFileSync(join(runDir, 'web.pid'), 'utf8').trim();
    t.equal(webPid, String(web.child.pid), 'the runner wrote its own pid');
    // The sandbox's proc has no processes: this one leads to the real one.
    await symlink(`/proc/${webPid}`, join(root, 'proc', webPid));

    // Exited with status 3, and a log with quotes, backslashes, tabs, CRs and a long line. Port
    // 5000 is listened on only on a loopback address, which does not count.
    await defineService(root, 'crashed', { port: 5000 });
    const logLines = Array.from({ length: 30 }, (_, index) => `line ${index + 1}: "quoted" back\\slash\ttab\\"`);
    logLines[25] = `${'x'.repeat(299)}\tand more past byte 300`;
    logLines[26] = 'windows line\r';
    logLines[27] = 'bell\x07 and escape\x1b[0m';
    logLines[28] = '';
    await writeFile(join(logDir, 'crashed.log'), `${logLines.join('\n')}\n`);
    await writeFile(join(runDir, 'crashed.pid'), '4242\n');
    await writeFile(join(runDir, 'crashed.exit'), '3\n');

    // Exited cleanly, with an empty log.
    await defineService(root, 'done', {});
    await writeFile(join(runDir, 'done.pid'), '4243\n');
    await writeFile(join(runDir, 'done.exit'), '0\n');
    await writeFile(join(logDir, 'done.log'), '');

    // Killed hard: its runner is gone and wrote no status.
    await defineService(root, 'killed', {});
    const dead = spawnSync('true').pid;
    await writeFile(join(runDir, 'killed.pid'), `${dead}\n`);
    await symlink(`/proc/${dead}`, join(root, 'proc', String(dead)));
    await writeFile(join(logDir, 'killed.log'), 'dying\n');

    // Never started, with a port nothing listens on.
    await defineService(root, 'never', { port: 9000 });

    // Its pid file names a live process that is not a runner: the pid was reused.
    await defineService(root, 'reused', {});
    await writeFile(join(runDir, 'reused.pid'), `${process.pid}\n`);
    await symlink(`/proc/${process.pid}`, join(root, 'proc', String(process.pid)));

    // Not services: a name the build would refuse, and a stray file.
    await mkdir(join(root, 'etc/banger/services/Bad_Name'));
    await writeFile(join(root, 'etc/banger/services/README'), 'not a service\n');

    const empty = await agentSandbox(t);
    const { lines, stderr } = await handleAll(shell, env, ['services s1', 'services']);
    const { lines: none } = await handleAll(shell, await shellEnv(t, shell, empty.env), ['services e1']);

    const expected: GuestServiceStatus[] = [
      { name: 'crashed', state: 'exited', port: 5000, listening: false, exitStatus: 3, logTail: expectedTail(logLines) },
      { name: 'done', state: 'exited', port: null, listening: null, exitStatus: 0, logTail: '' },
      { name: 'killed', state: 'exited', port: null, listening: null, exitStatus: null, logTail: 'dying' },
      { name: 'never', state: 'not_started', port: 9000, listening: false, exitStatus: null, logTail: null },
      { name: 'reused', state: 'exited', port: null, listening: null, exitStatus: null, logTail: '' },
      { name: 'web', state: 'running', port: 8080, listening: true, exitStatus: null, logTail: null },
    ];
    t.equal(lines.length, 2, lines.join('\n'));
    t.same(JSON.parse(lines[0] ?? 'null'), { ok: true, id: 's1', services: expected });
    t.same(parseAgentReply('services', lines[0] ?? ''), { ok: true, id: 's1', services: expected }, 'the host side accepts the reply');
    t.same(JSON.parse(lines[1] ?? 'null'), { ok: true, services: expected }, 'without an id');
    t.same(none.map((line) => JSON.parse(line)), [{ ok: true, id: 'e1', services: [] }], 'an image without services');
    const tail = expected[0]?.logTail ?? '';
    t.equal(tail.split('\n').length, 20, '20 lines');
    t.ok(tail.startsWith('line 11: "quoted" back\\slash tab\\"\n'), tail.slice(0, 60));
    t.match(tail, `\n${'x'.repeat(299)} \nwindows line\nbell and escape[0m\n\nline 30:`, 'cut, CR and escapes dropped, the empty line kept');
    t.equal(stderr, '');

    const agent = await agentOverSocket(t, shell, env);
    const queried = await queryAgent(unixSocketTransport(agent.path), { command: 'services', timeoutMs: 10_000 });
    t.same(queried.services, expected, 'queryAgent through the serve loop');
  });

  t.test(`banger-service runs a command and records how it ended, under ${name}`, { skip: shellSkip(shell) }, async (t) => {
    const box = await agentSandbox(t);
    const env = await shellEnv(t, shell, process.env);
    const root = box.root;
    await defineService(root, 'web', {
      command: `printf '%s\\n' "out: it's \\"quoted\\""\necho err >&2\nread line || echo "stdin: end of file"\nexit 7\n`,
    });
    const first = startRunner(t, root, ['web'], { shell, env });
    t.same(await first.exited, { code: 7, signal: null }, 'exits with the status');
    t.equal(box.read('run/banger/services/web.pid'), `${first.child.pid}\n`);
    t.equal(box.read('run/banger/services/web.exit'), '7\n');
    const once = `out: it's "quoted"\nerr\nstdin: end of file\n`;
    t.equal(box.read('var/log/banger/web.log'), once);
    t.equal(statSync(join(root, 'var/log/banger/web.log')).mode & 0o777, 0o640, 'the log is not world-readable');
    t.equal(first.stderr(), '');

    const second = startRunner(t, root, ['web'], { shell, env });
    t.equal((await second.exited).code, 7);
    t.equal(box.read('var/log/banger/web.log'), once + once, 'the log is appended to');
    t.equal(box.read('run/banger/services/web.pid'), `${second.child.pid}\n`);
  });

  t.test(`banger-service forwards TERM to the command and records its status, under ${name}`, { skip: shellSkip(shell) }, async (t) => {
    const box = await agentSandbox(t);
    const env = await shellEnv(t, shell, process.env);
    const root = box.root;
    // A shell that waits on a child: TERM must reach the child too, not only the shell.
    await defineService(root, 'plain', { command: `sleep 30 & echo $! >${root}/plain.sleep; wait` });
    // One that ends on TERM with a status of its own.
    await defineService(root, 'tidy', { command: `trap 'echo tidied; exit 5' TERM\nsleep 30 & echo $! >${root}/tidy.sleep\nwait\n` });
    await mkdir(join(root, 'run/banger/services'), { recursive: true });
    for (const [service, code] of [
      ['plain', 143],
      ['tidy', 5],
    ] as const) {
      await writeFile(join(root, `run/banger/services/${service}.exit`), '9\n');
      const runner = startRunner(t, root, [service], { shell, env });
      // The shell creates the file before it writes the pid: wait for the whole line.
      await waitFor(`${service}'s sleep`, () => existsSync(join(root, `${service}.sleep`)) && /^\d+\n$/.test(box.read(`${service}.sleep`)));
      t.notOk(existsSync(join(root, `run/banger/services/${service}.exit`)), `${service}: the stale status is gone while it runs`);
      const sleepPid = Number(box.read(`${service}.sleep`).trim());
      t.notOk(processGone(sleepPid), `${service}: its sleep runs`);
      runner.child.kill('SIGTERM');
      t.same(await runner.exited, { code, signal: null }, `${service}: the runner ended with the command's status`);
      t.equal(box.read(`run/banger/services/${service}.exit`), `${code}\n`);
      // Generous: on a loaded host (guests under emulation beside the tests) a killed process took over 5 s to be reaped.
      await waitFor(`${service}'s sleep to end`, () => processGone(sleepPid), 30_000).then(
        () => t.pass(`${service}: no sleep left`),
        (error: Error) => t.fail(error.message),
      );
    }
    t.match(box.read('var/log/banger/tidy.log'), /^tidied$/m);
  });

  t.test(`banger-service refuses bad and unknown names, under ${name}`, { skip: shellSkip(shell) }, async (t) => {
    const box = await agentSandbox(t);
    const env = await shellEnv(t, shell, process.env);
    await defineService(box.root, 'web', {});
    for (const args of [[], ['Web'], ['-web'], ['a'.repeat(33)], ['../web'], ['web', 'extra'], ['nosuch']]) {
      const runner = startRunner(t, box.root, args, { shell, env });
      t.same(await runner.exited, { code: 2, signal: null }, JSON.stringify(args));
      t.match(runner.stderr(), /^banger-service: (usage|bad service name|no service)/, JSON.stringify(args));
    }
    t.notOk(existsSync(join(box.root, 'run/banger')), 'nothing written');
  });
}

const setprivSkip = spawnSync('sh', ['-c', 'command -v setpriv']).status === 0 ? false : 'setpriv is not installed';
const rootSkip = process.getuid?.() === 0 ? false : 'switching users needs root';
const nobody = readFileSync('/etc/passwd', 'utf8')
  .split('\n')
  .find((line) => line.startsWith('nobody:'));
const nobodySkip = nobody === undefined ? 'no user nobody' : false;

for (const [how, shell, applets] of [
  ['setpriv (Debian)', ['dash'], null],
  ['busybox su', ['busybox', 'sh'], RUNNER_APPLETS],
] as const) {
  t.test(`banger-service runs a command as its user with ${how}`, { skip: rootSkip || nobodySkip || shellSkip(shell) || (applets === null && setprivSkip) }, async (t) => {
    const box = await agentSandbox(t);
    const root = box.root;
    // Only busybox applets in PATH for su, as in a busybox guest: no setpriv to find.
    const env = applets === null ? process.env : { ...process.env, PATH: await busyboxBin(t, applets) };
    const [, , uid, gid] = (nobody ?? '').split(':');
    await mkdir(join(root, 'home/svc'), { recursive: true });
    await writeFile(join(root, 'etc/passwd'), `root:x:0:0:root:/root:/bin/sh\nnobody:x:${uid}:${gid}:nobody:/home/svc:/usr/sbin/nologin\n`);
    await defineService(root, 'as-nobody', { user: 'nobody', command: 'id -u; id -g; pwd; echo "user $USER"' });
    await defineService(root, 'ghost', { user: 'ghost', command: 'true' });
    await defineService(root, 'bad-user', { user: 'Root!', command: 'true' });
    const runner = startRunner(t, root, ['as-nobody'], { shell, env });
    t.same(await runner.exited, { code: 0, signal: null }, runner.stderr());
    t.equal(box.read('var/log/banger/as-nobody.log'), `${uid}\n${gid}\n${join(root, 'home/svc')}\nuser nobody\n`, 'its uid and gid, in its home');
    t.equal(statSync(join(root, 'var/log/banger/as-nobody.log')).uid, 0, 'the log stays root’s');

    for (const [service, message] of [
      ['ghost', 'no user ghost in /etc/passwd'],
      ['bad-user', 'bad user in'],
    ] as const) {
      const refused = startRunner(t, root, [service], { shell, env });
      t.equal((await refused.exited).code, 2, service);
      t.equal(box.read(`run/banger/services/${service}.exit`), '2\n', `${service}: recorded, for the agent to report`);
      t.match(await readFile(join(root, `var/log/banger/${service}.log`), 'utf8'), message, `${service}: why, in its log`);
    }
  });
}

const shellcheckSkip = spawnSync('sh', ['-c', 'command -v shellcheck']).status === 0 ? false : 'shellcheck is not installed';

t.test('shellcheck finds nothing in the agent and the runner', { skip: shellcheckSkip }, async (t) => {
  const result = spawnSync('shellcheck', ['-s', 'sh', guestFiles.agent, guestFiles.serviceRunner], { encoding: 'utf8' });
  t.equal(result.status, 0, result.stdout);
});
