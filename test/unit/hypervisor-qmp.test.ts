import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { QmpClient, QmpError, withQmp } from '../../server/hypervisor/qemu/qmp-client.js';
import { formatQmpCommand, parseQmpMessage, QmpLineSplitter } from '../../server/hypervisor/qemu/qmp-protocol.js';

const GREETING = '{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian"}, "capabilities": ["oob"]}}\r\n';

t.test('message parsing', async (t) => {
  t.same(parseQmpMessage(GREETING.trim()), { kind: 'greeting' });
  t.same(parseQmpMessage('{"return": {}, "id": "c1"}'), { kind: 'return', id: 'c1', value: {} });
  t.same(parseQmpMessage('{"return": {"status": "running", "running": true}}'), { kind: 'return', id: undefined, value: { status: 'running', running: true } });
  t.same(parseQmpMessage('{"id": "c2", "error": {"class": "CommandNotFound", "desc": "The command nope has not been found"}}'), {
    kind: 'error',
    id: 'c2',
    errorClass: 'CommandNotFound',
    description: 'The command nope has not been found',
  });
  t.same(parseQmpMessage('{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "POWERDOWN"}'), { kind: 'event', event: 'POWERDOWN' });
  t.equal(parseQmpMessage('not json'), null);
  t.equal(parseQmpMessage('[]'), null);
  t.equal(parseQmpMessage('{"something": "else"}'), null);
});

t.test('command formatting', async (t) => {
  t.equal(formatQmpCommand('query-status', undefined, 'c1'), '{"execute":"query-status","id":"c1"}\n');
  t.equal(formatQmpCommand('human-monitor-command', { 'command-line': 'info' }, 'c2'), '{"execute":"human-monitor-command","arguments":{"command-line":"info"},"id":"c2"}\n');
  t.throws(() => formatQmpCommand('quit"}', undefined, 'c3'), /invalid QMP command name/);
});

t.test('line splitting keeps partial lines', async (t) => {
  const splitter = new QmpLineSplitter();
  t.same(splitter.push('{"a": 1}\r\n{"b"'), ['{"a": 1}']);
  t.same(splitter.push(': 2}\r\n\r\n'), ['{"b": 2}']);
  t.same(splitter.push(''), []);
  t.throws(() => splitter.push('x'.repeat(2 * 1024 * 1024)), /longer than/);
});

type Handler = (socket: Socket, command: { execute: string; id?: string; arguments?: unknown }) => void;

/** A QMP server that greets, accepts capabilities and hands every other command to handler. */
async function fakeQmp(t: Test, handler: Handler, options: { greet?: boolean } = {}): Promise<{ path: string; commands: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'banger-qmp-'));
  const path = join(dir, 'qmp.sock');
  const commands: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    if (options.greet !== false) socket.write(GREETING);
    const splitter = new QmpLineSplitter();
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      for (const line of splitter.push(chunk)) {
        const command = JSON.parse(line) as { execute: string; id?: string };
        commands.push(command.execute);
        if (command.execute === 'qmp_capabilities') {
          socket.write(`{"return": {}, "id": ${JSON.stringify(command.id)}}\r\n`);
        } else {
          handler(socket, command);
        }
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });
  return { path, commands };
}

t.test('handshake, answers by id, events ignored', async (t) => {
  const { path, commands } = await fakeQmp(t, (socket, command) => {
    if (command.execute === 'query-status') {
      // An event first, and the answer split across writes.
      socket.write('{"timestamp": {"seconds": 1, "microseconds": 0}, "event": "RESUME"}\r\n{"return": {"status": "running", ');
      setTimeout(() => socket.write(`"running": true}, "id": ${JSON.stringify(command.id)}}\r\n`), 20);
    } else {
      socket.write(`{"id": ${JSON.stringify(command.id)}, "error": {"class": "CommandNotFound", "desc": "The command ${command.execute} has not been found"}}\r\n`);
    }
  });
  const status = await withQmp(path, (client) => client.execute<{ status: string; running: boolean }>('query-status'));
  t.same(status, { status: 'running', running: true });
  t.same(commands, ['qmp_capabilities', 'query-status'], 'capabilities negotiated first');

  const failure = await withQmp(path, (client) => client.execute('nope')).catch((error: unknown) => error);
  t.ok(failure instanceof QmpError && failure.kind === 'command' && failure.errorClass === 'CommandNotFound', String(failure));
});

t.test('timeouts and closed connections', async (t) => {
  const silent = await fakeQmp(t, () => {});
  const client = await QmpClient.connect(silent.path);
  const timedOut = await client.execute('query-status', undefined, { timeoutMs: 200 }).catch((error: unknown) => error);
  t.ok(timedOut instanceof QmpError && timedOut.kind === 'timeout', String(timedOut));
  client.close();
  const afterClose = await client.execute('query-status').catch((error: unknown) => error);
  t.ok(afterClose instanceof QmpError && afterClose.kind === 'closed', 'a closed client refuses commands');

  const quitting = await fakeQmp(t, (socket) => socket.destroy());
  const closed = await withQmp(quitting.path, (c) => c.execute('quit')).catch((error: unknown) => error);
  t.ok(closed instanceof QmpError && closed.kind === 'closed', 'QEMU closing the monitor rejects what is pending');

  // Accepted but never greeted: what a second client sees while another holds the monitor.
  const busy = await fakeQmp(t, () => {}, { greet: false });
  const started = Date.now();
  const noGreeting = await QmpClient.connect(busy.path, { timeoutMs: 300 }).catch((error: unknown) => error);
  t.ok(noGreeting instanceof QmpError && noGreeting.kind === 'timeout', String(noGreeting));
  t.match((noGreeting as Error).message, /another client/);
  t.ok(Date.now() - started < 2000);

  const missing = await QmpClient.connect(join(tmpdir(), 'banger-no-such-qmp.sock')).catch((error: unknown) => error);
  t.ok(missing instanceof QmpError && missing.kind === 'connect', String(missing));
  t.match((missing as Error).message, /ENOENT/);

  const controller = new AbortController();
  setTimeout(() => controller.abort(), 100);
  const aborted = await QmpClient.connect(busy.path, { timeoutMs: 10_000, signal: controller.signal }).catch((error: unknown) => error);
  t.ok(aborted instanceof QmpError && aborted.kind === 'aborted', String(aborted));
});
