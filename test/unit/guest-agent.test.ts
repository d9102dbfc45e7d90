import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { AgentError, formatAgentRequest, parseAgentReply, queryAgent } from '../../server/guest/agent-protocol.js';
import { guestFiles } from '../../server/guest/guest-files.js';
import { run } from '../../server/host/runner.js';
import { unixSocketTransport } from '../../server/hypervisor/unix-socket-transport.js';

async function socketPath(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'banger-agent-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'agent.sock');
}

/** A stand-in for QEMU's socket: hands each request line (with its id) to onLine. */
async function fakeAgent(t: Test, path: string, onLine: (socket: Socket, command: string, id: string, count: number) => void): Promise<Server> {
  let count = 0;
  const server = createServer((socket) => {
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const [command = '', id = ''] = buffered.slice(0, newline).split(' ');
        buffered = buffered.slice(newline + 1);
        onLine(socket, command, id, ++count);
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

// The guest side runs under busybox sh in busybox images and dash in Debian ones.
for (const shell of [['dash'], ['busybox', 'sh']] as const) {
  t.test(`agent script answers under ${shell.join(' ')}`, async (t) => {
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
      t.equal(healthReply.agentVersion, 1);
      t.ok(healthReply.addresses.every((address) => !address.startsWith('127.') && address !== '::1/128'), 'no loopback');
    }
    t.same(JSON.parse(lines[2] ?? ''), { ok: false, id: 'x', error: 'unknown request' });
    t.same(JSON.parse(lines[3] ?? ''), { ok: true }, 'an invalid id is left out');
    t.same(JSON.parse(lines[4] ?? ''), { ok: true, id: 'spaced' });
    t.equal(result.stderr, '');
  });
}
