// The "is the guest port really open" rule, against local servers that behave like a user-mode
// NAT forward: one accepts and closes at once (the guest refused), one accepts and stays silent
// (an HTTP server waiting for a request), one greets (an SSH banner).
import { createServer, type Server } from 'node:net';
import t from 'tap';
import { hostPortFree, probeTcpPort, waitForPorts } from '../../server/services/vms/port-probe.js';

async function listen(onConnection: (socket: import('node:net').Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(onConnection);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no address');
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { server, port: address.port };
}

t.test('an accepted connection that the far side closes at once is not open', async (t) => {
  const { port } = await listen((socket) => socket.destroy());
  t.equal(await probeTcpPort(port, { holdMs: 300 }), 'closed');
  const { port: ended } = await listen((socket) => socket.end());
  t.equal(await probeTcpPort(ended, { holdMs: 300 }), 'closed', 'a FIN is no better');
});

t.test('a connection that stays up for the hold time is open', async (t) => {
  const sockets: import('node:net').Socket[] = [];
  const { port } = await listen((socket) => sockets.push(socket));
  const started = Date.now();
  t.equal(await probeTcpPort(port, { holdMs: 300 }), 'open');
  t.ok(Date.now() - started >= 290, 'it waited the hold time');
  for (const socket of sockets) socket.destroy();
});

t.test('a server that speaks first is open at once', async (t) => {
  const { port } = await listen((socket) => socket.write('SSH-2.0-OpenSSH_9.2\r\n'));
  const started = Date.now();
  t.equal(await probeTcpPort(port, { holdMs: 5000 }), 'open');
  t.ok(Date.now() - started < 2000, 'without waiting the hold time');
});

t.test('nothing listening is refused', async (t) => {
  const { server, port } = await listen(() => {});
  await new Promise<void>((resolve) => server.close(() => resolve()));
  t.equal(await probeTcpPort(port), 'refused');
  t.equal(await hostPortFree(port), true, 'and the port is free');
});

t.test('hostPortFree sees a listener', async (t) => {
  const { port } = await listen(() => {});
  t.equal(await hostPortFree(port), false);
});

t.test('waitForPorts waits for a port that opens late, and reports one that never does', async (t) => {
  const { server, port } = await listen((socket) => socket.destroy());
  const { port: silent } = await listen(() => {});
  // The refusing server turns into a greeting one after a moment.
  setTimeout(() => {
    server.removeAllListeners('connection');
    server.on('connection', (socket) => socket.end('hello\n'));
  }, 400);
  const opened: number[] = [];
  const result = await waitForPorts([port, silent], { timeoutMs: 5000, holdMs: 200, intervalMs: 50, onOpen: (p) => opened.push(p) });
  t.same(result.pending, []);
  t.same(opened.sort(), [port, silent].sort());

  const { port: never } = await listen((socket) => socket.destroy());
  const started = Date.now();
  const stuck = await waitForPorts([never], { timeoutMs: 600, holdMs: 200, intervalMs: 50 });
  t.same(stuck.pending, [never]);
  t.equal(stuck.last.get(never), 'closed');
  t.ok(Date.now() - started < 3000, 'gives up after the timeout');
});

t.test('an aborted probe ends at once', async (t) => {
  const { port } = await listen(() => {});
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 100);
  const started = Date.now();
  t.equal(await probeTcpPort(port, { holdMs: 10_000, signal: controller.signal }), 'timeout');
  t.ok(Date.now() - started < 2000);
});
