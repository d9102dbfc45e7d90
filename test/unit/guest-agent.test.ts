import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import {
  AGENT_PROTOCOL_VERSION,
  AgentError,
  formatAgentRequest,
  guestHostnameFor,
  parseAgentReply,
  queryAgent,
  reidentifyGuest,
  type AgentTransport,
  type ReidentifyArguments,
} from '../../server/guest/agent-protocol.js';
import { guestFiles } from '../../server/guest/guest-files.js';
import { newGuestSshHostKey } from '../../server/guest/ssh-host-key.js';
import { run } from '../../server/host/runner.js';
import { unixSocketTransport } from '../../server/hypervisor/unix-socket-transport.js';
import { agentOverSocket, agentSandbox, agentShells, fakeSshd, shellSkip, type AgentShell } from '../helpers/agent-sandbox.js';

async function socketPath(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'banger-agent-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'agent.sock');
}

/** A stand-in for QEMU's socket: hands each request line (with its id and arguments) to onLine. */
async function fakeAgent(
  t: Test,
  path: string,
  onLine: (socket: Socket, command: string, id: string, count: number, args: string[]) => void,
): Promise<Server> {
  let count = 0;
  const server = createServer((socket) => {
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const [command = '', id = '', ...args] = buffered.slice(0, newline).split(' ');
        buffered = buffered.slice(newline + 1);
        onLine(socket, command, id, ++count, args);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return server;
}

const health = (id: string): string =>
  `${JSON.stringify({ ok: true, id, uptimeSeconds: 3.5, addresses: ['10.0.2.15/24'], hostname: 'banger', agentVersion: 1 })}\n`;

t.test('request format and reply parsing', async (t) => {
  t.equal(formatAgentRequest('ping', 'a1'), 'ping a1\n');
  t.throws(() => formatAgentRequest('ping', 'bad id'), /id/);
  t.same(parseAgentReply('ping', '{"ok":true,"id":"x"}'), { ok: true, id: 'x' });
  t.same(parseAgentReply('health', health('y').trim()), { ok: true, id: 'y', uptimeSeconds: 3.5, addresses: ['10.0.2.15/24'], hostname: 'banger', agentVersion: 1 });
  t.equal(parseAgentReply('health', '{"ok":true,"id":"y"}'), null, 'health without its fields');
  t.equal(parseAgentReply('health', '{"ok":true,"uptimeSeconds":1,"addresses":[1],"hostname":"h","agentVersion":1}'), null);
  t.same(parseAgentReply('ping', '{"ok":false,"id":"z","error":"unknown request"}'), { ok: false, id: 'z', error: 'unknown request' });
  t.equal(parseAgentReply('ping', 'garbage{'), null);
  t.equal(parseAgentReply('ping', '[1]'), null);
});

t.test('waits for the socket, resends, and ignores stale and foreign lines', async (t) => {
  const path = await socketPath(t);
  const seen: string[] = [];
  // QEMU has not created the socket yet when the query starts.
  setTimeout(() => {
    void fakeAgent(t, path, (socket, command, id, count) => {
      seen.push(command);
      if (count === 1) {
        // Lost request: the agent had not opened its port. Leftovers arrive instead.
        socket.write('{"ok":true,"id":"stale-from-an-old-connection"}\nnot json\n{"ok":tr');
        socket.write('ue}\n');
        return;
      }
      socket.write(health(id));
    });
  }, 300);
  const started = Date.now();
  const reply = await queryAgent(unixSocketTransport(path), { timeoutMs: 10_000, resendMs: 200 });
  t.same(reply.addresses, ['10.0.2.15/24']);
  t.equal(reply.uptimeSeconds, 3.5);
  t.ok(seen.length >= 2 && seen.every((command) => command === 'health'), `requests resent: ${seen.join(',')}`);
  t.ok(Date.now() - started >= 300);
});

t.test('ping', async (t) => {
  const path = await socketPath(t);
  await fakeAgent(t, path, (socket, command, id) => socket.write(`{"ok":true,"id":"${id}"}\n`));
  const reply = await queryAgent(unixSocketTransport(path), { command: 'ping', timeoutMs: 5000 });
  t.equal(reply.ok, true);
  t.match(reply.id, /^[0-9a-f]{12}$/);
});

t.test('reconnects when the connection drops', async (t) => {
  const path = await socketPath(t);
  await fakeAgent(t, path, (socket, _command, id, count) => {
    if (count === 1) socket.destroy();
    else socket.write(health(id));
  });
  const reply = await queryAgent(unixSocketTransport(path), { timeoutMs: 5000, resendMs: 5000 });
  t.equal(reply.hostname, 'banger');
});

t.test('timeout, refusal and cancellation', async (t) => {
  const silent = await socketPath(t);
  await fakeAgent(t, silent, () => {});
  const timedOut = await queryAgent(unixSocketTransport(silent), { timeoutMs: 600, resendMs: 100 }).catch((error: unknown) => error);
  t.ok(timedOut instanceof AgentError && timedOut.code === 'timeout', 'timeout');
  t.match((timedOut as Error).message, /did not answer health within 600 ms/);

  const missing = await queryAgent(unixSocketTransport(join(tmpdir(), 'banger-no-such-socket')), { timeoutMs: 300 }).catch((error: unknown) => error);
  t.ok(missing instanceof AgentError && missing.code === 'timeout');
  t.match((missing as Error).message, /ENOENT/);

  const refusing = await socketPath(t);
  await fakeAgent(t, refusing, (socket, _command, id) => socket.write(`{"ok":false,"id":"${id}","error":"unknown request"}\n`));
  const refused = await queryAgent(unixSocketTransport(refusing), { timeoutMs: 5000 }).catch((error: unknown) => error);
  t.ok(refused instanceof AgentError && refused.code === 'refused');

  const controller = new AbortController();
  setTimeout(() => controller.abort(), 200);
  const started = Date.now();
  const aborted = await queryAgent(unixSocketTransport(silent), { timeoutMs: 10_000, signal: controller.signal }).catch((error: unknown) => error);
  t.ok(aborted instanceof AgentError && aborted.code === 'aborted');
  t.ok(Date.now() - started < 2000, 'stops promptly');
});

for (const shell of agentShells) {
  t.test(`agent script answers under ${shell.join(' ')}`, { skip: shellSkip(shell) }, async (t) => {
    const script = `. "$1"; handle "ping abc"; handle "health h-1"; handle "reboot x"; handle "ping bad\\"id"; handle ""; handle "  ping   spaced  "`;
    const [command, ...prefix] = shell;
    const result = await run(command, [...prefix, '-c', `exec 3>&1; ${script}`, 'agent-test', guestFiles.agent], {
      env: { ...process.env, BANGER_AGENT_NO_MAIN: '1' },
      timeoutMs: 10_000,
    });
    const lines = result.stdout.trim().split('\n');
    t.equal(lines.length, 5, result.stdout);
    t.same(JSON.parse(lines[0] ?? ''), { ok: true, id: 'abc' });
    const healthReply = parseAgentReply('health', lines[1] ?? '');
    t.ok(healthReply?.ok, lines[1] ?? '');
    if (healthReply?.ok) {
      t.equal(healthReply.id, 'h-1');
      t.ok(healthReply.uptimeSeconds > 0);
      t.equal(healthReply.agentVersion, AGENT_PROTOCOL_VERSION);
      t.ok(healthReply.addresses.every((address) => !address.startsWith('127.') && address !== '::1/128'), 'no loopback');
    }
    t.same(JSON.parse(lines[2] ?? ''), { ok: false, id: 'x', error: 'unknown request' });
    t.same(JSON.parse(lines[3] ?? ''), { ok: true }, 'an invalid id is left out');
    t.same(JSON.parse(lines[4] ?? ''), { ok: true, id: 'spaced' });
    t.equal(result.stderr, '');
  });
}

// reidentify: a clone restored from a memory snapshot becomes its own machine.

const ENTROPY = 'c0ffee'.repeat(10) + '0a1b';
const USAGE = 'usage: reidentify ID HOSTNAME UNIX_MS ENTROPY_HEX [SSH_ED25519_PRIVATE_B64 SSH_ED25519_PUBLIC_B64]';
const HOST_KEY = newGuestSshHostKey();
const OTHER_ENTROPY = '00ff'.repeat(64);

const reidentifyArgs = (change: Partial<ReidentifyArguments> = {}): ReidentifyArguments => ({
  hostname: 'clone-1',
  unixMs: 1_700_000_000_400,
  entropyHex: ENTROPY,
  ...change,
});

const reidentified = (id: string, change: Record<string, unknown> = {}): string =>
  `${JSON.stringify({ ok: true, id, hostname: 'clone-1', clockSetTo: 1_700_000_000, rngReseeded: true, sshHostKeys: 'none', repeat: false, ...change })}\n`;

t.test('reidentify: request format, argument checks and reply parsing', async (t) => {
  t.equal(formatAgentRequest('reidentify', 'r-1', reidentifyArgs()), `reidentify r-1 clone-1 1700000000400 ${ENTROPY}\n`);
  t.doesNotThrow(
    () => formatAgentRequest('reidentify', 'r', reidentifyArgs({ hostname: `A${'b'.repeat(61)}9`, entropyHex: 'AB'.repeat(256) })),
    '63-character hostname, 256 bytes of entropy',
  );
  for (const hostname of ['', '-clone', 'clone-', 'a'.repeat(64), 'clone_1', 'clone.1', 'clone 1', 'clone\n1', 'klón']) {
    t.throws(() => formatAgentRequest('reidentify', 'r', reidentifyArgs({ hostname })), /invalid guest hostname/, `hostname ${JSON.stringify(hostname)}`);
  }
  for (const unixMs of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 1e15, 2 ** 53]) {
    t.throws(() => formatAgentRequest('reidentify', 'r', reidentifyArgs({ unixMs })), /invalid guest time/, `time ${unixMs}`);
  }
  for (const entropyHex of ['ab'.repeat(31), 'ab'.repeat(257), 'a'.repeat(65), 'zz'.repeat(32), ` ${'ab'.repeat(32)}`]) {
    t.throws(() => formatAgentRequest('reidentify', 'r', reidentifyArgs({ entropyHex })), /invalid guest entropy/, `${entropyHex.length} characters`);
  }
  t.throws(() => formatAgentRequest('reidentify', 'bad id', reidentifyArgs()), /id/);
  t.equal(
    formatAgentRequest('reidentify', 'k', reidentifyArgs({ sshHostKey: HOST_KEY })),
    `reidentify k clone-1 1700000000400 ${ENTROPY} ${HOST_KEY.privateKeyBase64} ${HOST_KEY.publicKeyBase64}\n`,
    'the host key as two more words',
  );
  for (const sshHostKey of [
    { ...HOST_KEY, privateKeyBase64: `${HOST_KEY.privateKeyBase64} x` },
    { ...HOST_KEY, publicKeyBase64: HOST_KEY.privateKeyBase64 },
    { ...HOST_KEY, privateKeyBase64: '' },
  ]) {
    t.throws(() => formatAgentRequest('reidentify', 'k', reidentifyArgs({ sshHostKey })), /invalid guest SSH host key/);
  }
  for (const [vmName, hostname] of [
    ['web-1', 'web-1'],
    ['my_vm.2', 'my-vm-2'],
    ['vm-', 'vm'],
    ['a.', 'a'],
    ['_', 'banger'],
    [`x${'y'.repeat(61)}.z`, `x${'y'.repeat(61)}`],
  ] as const) {
    t.equal(guestHostnameFor(vmName), hostname, `VM name ${vmName}`);
    t.doesNotThrow(() => formatAgentRequest('reidentify', 'r', reidentifyArgs({ hostname: guestHostnameFor(vmName) })));
  }

  t.same(parseAgentReply('reidentify', reidentified('r').trim()), {
    ok: true,
    id: 'r',
    hostname: 'clone-1',
    clockSetTo: 1_700_000_000,
    rngReseeded: true,
    sshHostKeys: 'none',
    repeat: false,
  });
  t.same(parseAgentReply('reidentify', reidentified('r', { listening: [22] }).trim()), { ...JSON.parse(reidentified('r')), listening: [22] }, 'listening ports kept');
  for (const change of [{ hostname: 1 }, { clockSetTo: 1.5 }, { clockSetTo: '1' }, { rngReseeded: 'yes' }, { sshHostKeys: 'kept' }, { repeat: undefined }, { listening: [0] }, { listening: [70000] }, { listening: ['22'] }, { listening: 22 }]) {
    t.equal(parseAgentReply('reidentify', reidentified('r', change).trim()), null, JSON.stringify(change));
  }
  t.same(parseAgentReply('reidentify', '{"ok":false,"id":"r","error":"bad hostname"}'), { ok: false, id: 'r', error: 'bad hostname' });
  t.equal(parseAgentReply('reidentify', health('r').trim()), null, 'a health reply is no reidentify reply');
});

t.test('reidentify arguments are checked before anything is sent', async (t) => {
  const nowhere = unixSocketTransport(join(tmpdir(), 'banger-no-such-socket'));
  const started = Date.now();
  const badName = await queryAgent(nowhere, { command: 'reidentify', args: reidentifyArgs({ hostname: 'no_underscores' }), timeoutMs: 5000 }).catch(
    (error: unknown) => error,
  );
  t.ok(badName instanceof Error && !(badName instanceof AgentError), 'a plain Error, not a failed query');
  t.match((badName as Error).message, /invalid guest hostname "no_underscores"/);
  const shortEntropy = await reidentifyGuest(nowhere, { hostname: 'clone-1', entropy: Buffer.alloc(16), timeoutMs: 5000 }).catch((error: unknown) => error);
  t.match((shortEntropy as Error).message, /invalid guest entropy/);
  t.ok(Date.now() - started < 1000, 'without waiting for the socket');
});

t.test('reidentifyGuest: fresh time on every resend, and the reply is checked', async (t) => {
  const path = await socketPath(t);
  const requests: string[][] = [];
  let answer = (id: string, args: string[]): string => reidentified(id, { hostname: args[0], clockSetTo: Math.round(Number(args[1]) / 1000) });
  await fakeAgent(t, path, (socket, command, id, count, args) => {
    requests.push([command, ...args]);
    // The first two are lost, as before the agent opens its port.
    if (count % 3 === 0) socket.write(answer(id, args));
  });
  const transport = unixSocketTransport(path);
  const now = new Date('2030-01-01T00:00:00Z');
  const entropy = Buffer.alloc(32, 7);
  const reply = await reidentifyGuest(transport, { hostname: 'clone-7', now, entropy, timeoutMs: 5000, resendMs: 100 });
  t.match(reply, { ok: true, hostname: 'clone-7', clockSetTo: 1_893_456_000, sshHostKeys: 'none', repeat: false });
  t.equal(requests.length, 3, 'resent until answered');
  t.ok(
    requests.every(([command, hostname, , hex]) => command === 'reidentify' && hostname === 'clone-7' && hex === entropy.toString('hex')),
    'same hostname and entropy in every resend',
  );
  const times = requests.map((request) => Number(request[2]));
  t.ok((times[0] ?? 0) >= now.getTime() && (times[0] ?? 0) < now.getTime() + 1000, `first request carries the given time: ${times[0]}`);
  t.ok((times[2] ?? 0) - (times[0] ?? 0) >= 150, `a resend carries the time it is sent at: ${times.join(', ')}`);

  requests.length = 0;
  await reidentifyGuest(transport, { hostname: 'clone-8', timeoutMs: 5000, resendMs: 50 });
  await reidentifyGuest(transport, { hostname: 'clone-8', timeoutMs: 5000, resendMs: 50 });
  const entropies = new Set(requests.map((request) => request[3]));
  t.equal(entropies.size, 2, 'each call makes its own entropy');
  t.ok([...entropies].every((hex) => /^[0-9a-f]{64}$/.test(hex ?? '')), '32 bytes by default');
  t.ok(requests.every((request) => Math.abs(Number(request[2]) - Date.now()) < 5000), 'default time is the host clock');

  answer = (id) => reidentified(id, { hostname: 'banger', clockSetTo: Math.round(Date.now() / 1000) });
  const wrongName = await reidentifyGuest(transport, { hostname: 'clone-9', timeoutMs: 5000, resendMs: 50 }).catch((error: unknown) => error);
  t.ok(wrongName instanceof AgentError && wrongName.code === 'refused');
  t.match((wrongName as Error).message, /hostname is "banger", not "clone-9"/);
  answer = (id, args) => reidentified(id, { hostname: args[0], clockSetTo: 1_000_000_000 });
  const wrongClock = await reidentifyGuest(transport, { hostname: 'clone-9', timeoutMs: 5000, resendMs: 50 }).catch((error: unknown) => error);
  t.match((wrongClock as Error).message, /clock reads 1000000000, not between/);
});

t.test('reidentifyGuest sends a new host key, and leaves it out for a version 1 agent', async (t) => {
  const path = await socketPath(t);
  const requests: string[][] = [];
  let legacy = false;
  await fakeAgent(t, path, (socket, _command, id, _count, args) => {
    requests.push(args);
    if (legacy && args.length !== 3) socket.write(`${JSON.stringify({ ok: false, id, error: 'usage: reidentify ID HOSTNAME UNIX_MS ENTROPY_HEX' })}\n`);
    else socket.write(reidentified(id, { hostname: args[0], clockSetTo: Math.round(Number(args[1]) / 1000) }));
  });
  const transport = unixSocketTransport(path);
  await reidentifyGuest(transport, { hostname: 'clone-1', timeoutMs: 5000 });
  await reidentifyGuest(transport, { hostname: 'clone-2', timeoutMs: 5000 });
  t.equal(requests.length, 2);
  t.ok(requests.every((args) => args.length === 5), 'hostname, time, entropy, private and public key');
  t.not(requests[0]?.[3], requests[1]?.[3], 'a new key for every clone');

  requests.length = 0;
  legacy = true;
  const reply = await reidentifyGuest(transport, { hostname: 'clone-3', timeoutMs: 5000 });
  t.equal(reply.hostname, 'clone-3');
  t.same(requests.map((args) => args.length), [5, 3], 'asked again without the key');
});

/** Runs each request line through the agent's handle in one shell, so that what it remembers carries over. */
async function handleAll(shell: AgentShell, env: NodeJS.ProcessEnv, requests: string[]): Promise<{ replies: Record<string, unknown>[]; stderr: string }> {
  const [command, ...prefix] = shell;
  const script = 'exec 3>&1; . "$1"; shift; for request in "$@"; do handle "$request"; done';
  const result = await run(command, [...prefix, '-c', script, 'agent-test', guestFiles.agent, ...requests], { env, timeoutMs: 20_000 });
  const replies = result.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { replies, stderr: result.stderr };
}

const sshKeygenSkip = spawnSyncStatus('command -v ssh-keygen') === 0 ? false : 'ssh-keygen is not installed';

function spawnSyncStatus(script: string): number | null {
  return spawnSync('sh', ['-c', script]).status;
}

for (const shell of agentShells) {
  const name = shell.join(' ');

  t.test(`agent reidentifies under ${name}`, { skip: shellSkip(shell) }, async (t) => {
    const box = await agentSandbox(t, { netTables: true });
    const longName = `${'c'.repeat(62)}2`;
    const { replies, stderr } = await handleAll(shell, box.env, [
      `reidentify r1 clone-1 1700000000400 ${ENTROPY}`,
      // The host resending: same hostname and entropy, a later time.
      `reidentify r2 clone-1 1700000009999 ${ENTROPY}`,
      `reidentify r3 ${longName} 1700000020600 ${OTHER_ENTROPY}`,
      'ping p',
    ]);
    t.same(replies, [
      { ok: true, id: 'r1', hostname: 'clone-1', clockSetTo: 1_700_000_000, rngReseeded: true, sshHostKeys: 'none', repeat: false, listening: [22, 8080] },
      { ok: true, id: 'r2', hostname: 'clone-1', clockSetTo: 1_700_000_000, rngReseeded: true, sshHostKeys: 'none', repeat: true, listening: [22, 8080] },
      { ok: true, id: 'r3', hostname: longName, clockSetTo: 1_700_000_021, rngReseeded: true, sshHostKeys: 'none', repeat: false, listening: [22, 8080] },
      { ok: true, id: 'p' },
    ]);
    for (const reply of replies.slice(0, 3)) t.same(parseAgentReply('reidentify', JSON.stringify(reply)), reply, 'the host side accepts the reply');
    t.same(box.clockSets(), ['@1700000000', '@1700000021'], 'date -s with rounded seconds, not again for the resend');
    t.same(box.reseeds(), [1, 2].map(() => `-e open(my $f, "<", $ARGV[0]) or exit 1; ioctl($f, 0x5207, 0) or exit 1 ${box.root}/dev/urandom`), 'RNG reseeded per application');
    t.equal(box.read('proc/sys/kernel/hostname'), `${longName}\n`);
    t.equal(box.read('etc/hostname'), `${longName}\n`);
    t.equal(box.read('etc/hosts'), `127.0.0.1\tlocalhost\n127.0.1.1\t${longName}\n::1\tlocalhost ip6-localhost ip6-loopback\n`);
    t.same(box.readBytes('dev/urandom'), Buffer.from(OTHER_ENTROPY, 'hex'), 'the decoded bytes, NULs included, went to /dev/urandom');
    t.equal(stderr, '');
  });

  t.test(`agent refuses bad reidentify requests under ${name}`, { skip: shellSkip(shell) }, async (t) => {
    const box = await agentSandbox(t);
    const refusals: [string, string][] = [
      [`reidentify b1 -clone 1700000000000 ${ENTROPY}`, 'bad hostname'],
      [`reidentify b2 clone- 1700000000000 ${ENTROPY}`, 'bad hostname'],
      [`reidentify b3 ${'a'.repeat(64)} 1700000000000 ${ENTROPY}`, 'bad hostname'],
      [`reidentify b4 clone_1 1700000000000 ${ENTROPY}`, 'bad hostname'],
      [`reidentify b5 clone 01700000000000 ${ENTROPY}`, 'bad time'],
      [`reidentify b6 clone 17e11 ${ENTROPY}`, 'bad time'],
      [`reidentify b7 clone 1234567890123456 ${ENTROPY}`, 'bad time'],
      [`reidentify b8 clone 1700000000000 ${'a'.repeat(65)}`, 'bad entropy'],
      [`reidentify b9 clone 1700000000000 ${'ab'.repeat(31)}`, 'bad entropy'],
      [`reidentify b10 clone 1700000000000 ${'ab'.repeat(257)}`, 'bad entropy'],
      [`reidentify b11 clone 1700000000000 ${'g'.repeat(64)}`, 'bad entropy'],
      ['reidentify b12 clone 1700000000000', USAGE],
      [`reidentify b13 clone 1700000000000 ${ENTROPY} extra`, USAGE],
      [`reidentify b14 clone 1700000000000 ${ENTROPY} ${HOST_KEY.privateKeyBase64}`, USAGE],
      [`reidentify b15 clone 1700000000000 ${ENTROPY} ${HOST_KEY.publicKeyBase64} ${HOST_KEY.privateKeyBase64}`, 'bad ssh host key'],
      [`reidentify b16 clone 1700000000000 ${ENTROPY} ${HOST_KEY.privateKeyBase64}* ${HOST_KEY.publicKeyBase64}`, 'bad ssh host key'],
      [`reidentify b17 clone 1700000000000 ${ENTROPY} ${HOST_KEY.privateKeyBase64}${'A'.repeat(1024)} ${HOST_KEY.publicKeyBase64}`, 'bad ssh host key'],
    ];
    const { replies, stderr } = await handleAll(shell, box.env, [...refusals.map(([request]) => request), `reidentify bad"id clone 1 ${ENTROPY}`, 'reidentify']);
    t.same(replies, [
      ...refusals.map(([request, error]) => ({ ok: false, id: request.split(' ')[1], error })),
      { ok: false, error: USAGE },
      { ok: false, error: USAGE },
    ]);
    t.same(box.clockSets(), [], 'clock untouched');
    t.equal(box.read('etc/hostname'), 'banger\n', 'hostname untouched');
    t.equal(stderr, '');
  });

  t.test(`agent makes a new SSH host key that sshd reads for the next connection, under ${name}`, { skip: shellSkip(shell) || sshKeygenSkip }, async (t) => {
    const box = await agentSandbox(t, { sshd: true });
    // A relisten far longer than the work itself: waiting for one would show plainly even on a loaded host.
    const sshd = await fakeSshd(t, box.root, { comm: 'sshd', relistenAfterMs: 5000 });
    const started = Date.now();
    const { replies, stderr } = await handleAll(shell, box.env, [`reidentify s1 clone-1 1700000000000 ${ENTROPY}`, `reidentify s2 clone-1 1700000000000 ${ENTROPY}`]);
    const tookMs = Date.now() - started;
    t.match(replies, [
      { ok: true, id: 's1', sshHostKeys: 'regenerated', rngReseeded: true, repeat: false },
      { ok: true, id: 's2', sshHostKeys: 'regenerated', rngReseeded: true, repeat: true },
    ]);
    t.equal(sshd.hangups(), 0, 'no reload: OpenSSH before 9.8 reads its host keys for every connection');
    t.ok(tookMs < 5000, `the reply did not wait for a relisten (${tookMs} ms)`);
    t.same((await run('ls', [join(box.root, 'etc/ssh')])).stdout.split('\n').filter(Boolean), [
      'ssh_host_ed25519_key',
      'ssh_host_ed25519_key.pub',
    ], 'old keys (RSA included) gone, nothing left over');
    t.match(box.read('etc/ssh/ssh_host_ed25519_key.pub'), /^ssh-ed25519 \S+ ?\n$/, 'an Ed25519 key without a comment');
    t.match(box.read('etc/ssh/ssh_host_ed25519_key'), /^-----BEGIN OPENSSH PRIVATE KEY-----/);
    t.equal(box.reseeds().length, 1, 'the resend did nothing');
    t.equal(stderr, '');
  });

  t.test(`agent reloads an sshd that keeps its keys in the listener (OpenSSH 9.8+), under ${name}`, { skip: shellSkip(shell) || sshKeygenSkip }, async (t) => {
    const box = await agentSandbox(t, { sshd: true, sshdSession: true });
    const sshd = await fakeSshd(t, box.root, { comm: 'sshd', relistenAfterMs: 300 });
    const started = Date.now();
    const { replies, stderr } = await handleAll(shell, box.env, [`reidentify s1 clone-1 1700000000000 ${ENTROPY}`]);
    const tookMs = Date.now() - started;
    t.match(replies, [{ ok: true, id: 's1', sshHostKeys: 'regenerated', rngReseeded: true, repeat: false }]);
    t.equal(sshd.hangups(), 1, 'sshd got one SIGHUP');
    t.ok(tookMs >= 300, `the reply waited for sshd to listen again (${tookMs} ms)`);
    t.match(box.read('etc/ssh/ssh_host_ed25519_key.pub'), /^ssh-ed25519 \S+ ?\n$/);
    t.equal(stderr, '');
  });

  t.test(`agent installs the SSH host key the host sent, under ${name}`, { skip: shellSkip(shell) || sshKeygenSkip }, async (t) => {
    // No reseed needed: the key comes from the host's RNG, not the clone's.
    const box = await agentSandbox(t, { sshd: true, reseeds: false });
    const sshd = await fakeSshd(t, box.root, { comm: 'sshd', relistenAfterMs: 300 });
    const request = `reidentify k1 clone-1 1700000000000 ${ENTROPY} ${HOST_KEY.privateKeyBase64} ${HOST_KEY.publicKeyBase64}`;
    const { replies, stderr } = await handleAll(shell, box.env, [request, request.replace('k1', 'k2')]);
    t.match(replies, [
      { ok: true, id: 'k1', sshHostKeys: 'regenerated', rngReseeded: false, repeat: false },
      { ok: true, id: 'k2', repeat: true },
    ]);
    t.equal(sshd.hangups(), 0, 'no reload');
    t.same((await run('ls', [join(box.root, 'etc/ssh')])).stdout.split('\n').filter(Boolean), ['ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub'], 'RSA gone, nothing left over');
    const privatePath = join(box.root, 'etc/ssh/ssh_host_ed25519_key');
    t.equal(statSync(privatePath).mode & 0o777, 0o600, 'the private key is root-only');
    t.equal(box.read('etc/ssh/ssh_host_ed25519_key.pub'), `ssh-ed25519 ${HOST_KEY.publicKeyBase64}\n`);
    const derived = await run('ssh-keygen', ['-y', '-f', privatePath]);
    t.equal(derived.stdout.trim().split(' ').slice(0, 2).join(' '), `ssh-ed25519 ${HOST_KEY.publicKeyBase64}`, 'OpenSSH reads the key back as one line');
    t.equal(stderr, '');
  });

  t.test(`agent sets the clock and reseeds in one perl process on x86_64, under ${name}`, { skip: shellSkip(shell) }, async (t) => {
    const box = await agentSandbox(t, { x86: true });
    const { replies } = await handleAll(shell, box.env, [`reidentify x1 clone-1 1700000000400 ${ENTROPY}`]);
    t.match(replies, [{ ok: true, id: 'x1', clockSetTo: 1_700_000_000, rngReseeded: true }]);
    t.same(box.clockSets(), [], 'no date process');
    t.equal(box.reseeds().length, 1, 'one perl process');
    t.match(box.reseeds()[0], /syscall\(164, .* 1700000000 \S+\/dev\/urandom$/, 'settimeofday with the rounded seconds, then the reseed');
    t.same(box.readBytes('dev/urandom'), Buffer.from(ENTROPY, 'hex'), 'the entropy went in before the reseed');

    const refused = await agentSandbox(t, { x86: 'fails' });
    const { replies: fellBack } = await handleAll(shell, refused.env, [`reidentify x2 clone-1 1700000000400 ${ENTROPY}`]);
    t.match(fellBack, [{ ok: true, id: 'x2', clockSetTo: 1_700_000_000, rngReseeded: true }]);
    t.same(refused.clockSets(), ['@1700000000'], 'date when perl could not set the clock');
    t.equal(refused.reseeds().length, 2, 'then perl for the reseed alone');

    const withKey = await agentSandbox(t, { x86: true, sshd: true });
    const { replies: keyed } = await handleAll(shell, withKey.env, [`reidentify x3 clone-1 1700000000400 ${ENTROPY} ${HOST_KEY.privateKeyBase64} ${HOST_KEY.publicKeyBase64}`]);
    t.match(keyed, [{ ok: true, id: 'x3', sshHostKeys: 'regenerated' }]);
    t.equal(withKey.reseeds().length, 1, 'one perl process');
    t.match(withKey.reseeds()[0], /\/dev\/urandom \S+\/etc\/ssh\/banger-new-ed25519 \S+\/etc\/ssh\/ssh_host_ed25519_key$/, 'which renames the staged key too');
    t.match(withKey.read('etc/ssh/ssh_host_ed25519_key'), /^-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE/);
    t.same((await run('ls', [join(withKey.root, 'etc/ssh')])).stdout.split('\n').filter(Boolean), ['ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub']);
  });

  t.test(`the clock is set to the time sent plus the guest's uptime since the request, under ${name}`, { skip: shellSkip(shell) }, async (t) => {
    const box = await agentSandbox(t);
    await writeFile(join(box.root, 'proc/uptime'), '101.50 50.00\n');
    const [command, ...prefix] = shell;
    const script = '. "$1"; clock_target 1700000000400 10000; echo "$seconds"; clock_target 1700000000400 10150; echo "$seconds"';
    const result = await run(command, [...prefix, '-c', script, 'agent-test', guestFiles.agent], { env: box.env, timeoutMs: 10_000 });
    t.same(result.stdout.trim().split('\n'), ['1700000002', '1700000000'], '0.4 s + 1.5 s rounds up to 2; + 0 stays');
  });

  t.test(`agent discards dropbear's host key and stops the dropbear holding it, under ${name}`, { skip: shellSkip(shell) }, async (t) => {
    const box = await agentSandbox(t, { dropbear: true, reseeds: false });
    const dropbear = spawn('sleep', ['60'], { stdio: 'ignore' });
    t.teardown(() => dropbear.kill());
    const pid = String(dropbear.pid);
    await writeFile(join(box.root, 'run/banger-dropbear.pid'), `${pid}\n`);
    await mkdir(join(box.root, 'proc', pid), { recursive: true });
    await writeFile(join(box.root, 'proc', pid, 'comm'), 'dropbear\n');
    const exited = new Promise((resolve) => dropbear.once('exit', (_code, signal) => resolve(signal)));
    const { replies, stderr } = await handleAll(shell, box.env, [`reidentify d1 clone-1 1700000000000 ${ENTROPY}`]);
    t.match(replies, [{ ok: true, id: 'd1', rngReseeded: false, sshHostKeys: 'discarded' }], 'no reseed needed: the key is made later, by dropbear');
    t.notOk(existsSync(join(box.root, 'etc/dropbear/dropbear_ed25519_host_key')), 'the key is gone; dropbear -R makes a new one');
    t.equal(await exited, 'SIGTERM', 'the running dropbear, which holds the old key, was stopped');
    t.equal(stderr, '');
  });

  t.test(`agent keeps the SSH host keys when it cannot reseed the RNG, under ${name}`, { skip: shellSkip(shell) }, async (t) => {
    const box = await agentSandbox(t, { sshd: true, reseeds: false });
    const sshd = await fakeSshd(t, box.root, { comm: 'sshd', relistenAfterMs: 0 });
    const { replies } = await handleAll(shell, box.env, [`reidentify n1 clone-1 1700000000000 ${ENTROPY}`]);
    t.same(replies, [{ ok: false, id: 'n1', error: 'cannot reseed the kernel RNG, so no new ssh host keys' }]);
    t.equal(box.read('etc/ssh/ssh_host_ed25519_key'), 'old ssh_host_ed25519_key\n');
    t.equal(sshd.hangups(), 0, 'sshd not signalled');

    const unseeded = await agentSandbox(t, { reseeds: false });
    const { replies: withoutSshd } = await handleAll(shell, unseeded.env, [`reidentify n2 clone-1 1700000000000 ${ENTROPY}`]);
    t.match(withoutSshd, [{ ok: true, rngReseeded: false, sshHostKeys: 'none' }], 'without sshd that is only reported');
  });

  t.test(`agent leaves a process alone whose pid is in a stale sshd.pid, under ${name}`, { skip: shellSkip(shell) || sshKeygenSkip }, async (t) => {
    const box = await agentSandbox(t, { sshd: true, sshdSession: true });
    const other = await fakeSshd(t, box.root, { comm: 'node', relistenAfterMs: 0 });
    const { replies } = await handleAll(shell, box.env, [`reidentify p1 clone-1 1700000000000 ${ENTROPY}`]);
    t.match(replies, [{ ok: true, sshHostKeys: 'regenerated' }]);
    t.equal(other.hangups(), 0);
  });

  t.test(`queryAgent and reidentifyGuest over a unix socket to the agent's serve loop under ${name}`, { skip: shellSkip(shell) }, async (t) => {
    // Setting the clock takes a while, so resends queue up behind the first request.
    const box = await agentSandbox(t, { dateDelaySeconds: 0.5 });
    const agent = await agentOverSocket(t, shell, box.env);
    const transport = unixSocketTransport(agent.path);
    t.equal((await queryAgent(transport, { command: 'ping', timeoutMs: 10_000 })).ok, true, 'ping');
    t.equal((await queryAgent(transport, { command: 'health', timeoutMs: 10_000 })).agentVersion, AGENT_PROTOCOL_VERSION, 'health');
    let sent = 0;
    const counting: AgentTransport = {
      description: transport.description,
      open: async () => {
        const stream = await transport.open();
        const write = stream.write.bind(stream) as (chunk: string) => boolean;
        stream.write = ((chunk: string) => {
          sent++;
          return write(chunk);
        }) as typeof stream.write;
        return stream;
      },
    };
    const started = Date.now();
    const reply = await reidentifyGuest(counting, { hostname: 'clone-e2e', timeoutMs: 10_000, resendMs: 100 });
    t.match(reply, { ok: true, hostname: 'clone-e2e', rngReseeded: true, sshHostKeys: 'none', repeat: false });
    t.ok(Math.abs(reply.clockSetTo * 1000 - started) < 2000, `clock set to the host's time: ${reply.clockSetTo}`);
    t.equal(box.read('etc/hostname'), 'clone-e2e\n');
    // Let the agent get through the resends queued while it was setting the clock.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    t.ok(sent >= 3, `the host sent ${sent} requests`);
    t.equal(box.clockSets().length, 1, 'applied once although resent');
    t.equal(box.reseeds().length, 1);
    t.notMatch(agent.stderr(), /reidentify|not found|syntax/i, agent.stderr());
  });
}

t.test('agent refuses when sshd does not listen again after its reload', { skip: shellSkip(['dash']) || sshKeygenSkip }, async (t) => {
  const box = await agentSandbox(t, { sshd: true, sshdSession: true });
  const sshd = await fakeSshd(t, box.root, { comm: 'sshd', relistenAfterMs: null });
  const { replies } = await handleAll(['dash'], box.env, [`reidentify w1 clone-1 1700000000000 ${ENTROPY}`]);
  t.same(replies, [{ ok: false, id: 'w1', error: 'sshd did not reload and listen again' }]);
  t.equal(sshd.hangups(), 1);
});

/** CAP_SYS_ADMIN is bit 21 of the effective capabilities. */
function hasSysAdmin(): boolean {
  const line = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return line !== undefined && (BigInt(`0x${line}`) & (1n << 21n)) !== 0n;
}

t.test('the agent reseeds the kernel RNG with perl where it has CAP_SYS_ADMIN', {
  skip: !hasSysAdmin() ? 'needs CAP_SYS_ADMIN, as the agent has in a guest' : spawnSyncStatus('command -v perl') !== 0 ? 'perl is not installed' : false,
}, async (t) => {
  // Reseeding the test host's RNG from its own input pool does it no harm.
  const script = '. "$1"; if reseed_rng; then echo reseeded; else echo refused; fi';
  const real = await run('sh', ['-c', script, 'agent-test', guestFiles.agent], { env: { ...process.env, BANGER_AGENT_NO_MAIN: '1' } });
  t.equal(real.stdout, 'reseeded\n', 'RNDRESEEDCRNG on /dev/urandom');
  const box = await agentSandbox(t);
  await writeFile(join(box.root, 'dev/urandom'), '');
  const notDevice = await run('sh', ['-c', script, 'agent-test', guestFiles.agent], { env: { ...box.env, BANGER_AGENT_PERL: 'perl' } });
  t.equal(notDevice.stdout, 'refused\n', 'the same ioctl on a plain file fails, so the success above was the real one');
});
