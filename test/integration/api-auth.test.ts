// The TCP listener requires a bearer token, except for the contract and its docs page; the unix
// socket (mode 0660) requires none.
import { existsSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { request } from 'undici';
import { assertProblem } from '../helpers/api.js';
import { type HttpResult, makeTempDir, serveUntilExit, startDaemon, tcpUrlOf, type TestDaemon } from '../helpers/daemon.js';

const token = '0123456789abcdef0123456789abcdef';

/** A TCP port nobody listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}


async function tcp(url: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<HttpResult> {
  const res = await request(`${url}${path}`, { method: method as 'GET', headers });
  const text = await res.body.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // kept as text
  }
  return { status: res.statusCode, headers: res.headers, body, text };
}

/** GET with the path sent as written: undici (like any WHATWG URL) would resolve `..` and `%2e%2e` first. */
async function rawGet(url: string, path: string): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

const port = await freePort();
const daemon = await startDaemon(t, { args: ['--listen', `127.0.0.1:${port}`, '--token', token] });
const url = await tcpUrlOf(daemon);

t.test('the TCP url is the one asked for', async (t) => {
  t.equal(url, `http://127.0.0.1:${port}`);
});

t.test('no token: 401 unauthorized with WWW-Authenticate', async (t) => {
  const res = await tcp(url, '/images');
  assertProblem(t, res, { status: 401, code: 'unauthorized', detail: /requires Authorization: Bearer/ });
  t.match(String(res.headers['www-authenticate']), /^Bearer realm="banger"$/);
  t.match(res.body.hint, /--token|BANGER_TOKEN/, 'the hint says where the token comes from');
});

// Other paths, wrong tokens and the scheme's case are checked in-process in test/api/problems.test.ts.
t.test('a wrong token: 401', async (t) => {
  const res = await tcp(url, '/images', { authorization: `Bearer ${token}x` });
  assertProblem(t, res, { status: 401, code: 'unauthorized' });
  t.ok(res.headers['www-authenticate'], 'WWW-Authenticate');
});

t.test('the right token: 200', async (t) => {
  const res = await tcp(url, '/images', { authorization: `Bearer ${token}` });
  t.equal(res.status, 200);
  t.same(res.body, { items: [], nextCursor: null });
});

t.test('the contract and its docs page need no token; URLs that only look like them do', async (t) => {
  for (const path of ['/openapi.json', '/docs', '/docs/static/swagger-ui-bundle.js']) {
    t.equal((await tcp(url, path)).status, 200, `GET ${path}`);
  }
  for (const path of ['/docs/../images', '/docs/%2e%2e/images', '/./docs/../images', '//docs', '//openapi.json', '/docsx', '/DOCS', '/docs%2f..%2fimages', '/images?x=/docs']) {
    const res = await rawGet(url, path);
    t.equal(res.status, 401, `GET ${path}: 401`);
  }
  // These do reach the docs page's file server, which answers them with a problem and no file.
  for (const path of ['/docs/static/../../images', '/docs/static/%2e%2e/%2e%2e/images', '/docs/static/..%2f..%2fimages', '/docs/static/../../../../etc/passwd']) {
    const res = await rawGet(url, path);
    t.equal(res.status, 404, `GET ${path}: 404`);
    t.match(res.text, /^\{"type":"urn:banger:problem:not-found"/, `GET ${path}: a not-found problem, neither images nor a file`);
  }
});

t.test('the unix socket needs no token, and is mode 0660', async (t) => {
  const res = await daemon.http('GET', '/images');
  t.equal(res.status, 200);
  t.same(res.body, { items: [], nextCursor: null });
  const info = statSync(daemon.socketPath);
  t.ok(info.isSocket(), 'a socket');
  t.equal((info.mode & 0o777).toString(8), '660', 'mode 0660');
});

t.test('--listen without --token refuses to start', async (t) => {
  const stateDir = await makeTempDir(t, 'banger-auth-');
  const [noToken, viaEnv, short] = await Promise.all([
    serveUntilExit(['--state-dir', stateDir, '--listen', '127.0.0.1:7']),
    serveUntilExit(['--state-dir', stateDir], { BANGER_LISTEN: '127.0.0.1:7' }),
    serveUntilExit(['--state-dir', stateDir, '--listen', '127.0.0.1:7', '--token', 'short']),
  ]);
  t.not(noToken.code, 0, 'exits non-zero');
  t.match(noToken.output, /--listen needs --token \(or BANGER_TOKEN\)/, 'says why');
  t.notOk(existsSync(join(stateDir, 'banger.sock')), 'listens on nothing');

  t.not(viaEnv.code, 0, 'BANGER_LISTEN without a token is refused too');
  t.match(viaEnv.output, /--listen needs --token/);

  t.not(short.code, 0, 'a short token is refused');
  t.match(short.output, /at least 16 characters/);
});

t.test('--listen on port 0 picks a free port and logs it', async (t) => {
  let other: TestDaemon;
  try {
    other = await startDaemon(t, { args: ['--listen', '127.0.0.1:0', '--token', token] });
  } catch (error) {
    const printed = String(error).split('its output:')[1] ?? String(error);
    const reason = printed.split('\n').filter((line) => /error/i.test(line)).pop() ?? printed;
    t.fail(`the daemon did not start with --listen 127.0.0.1:0: ${reason}`);
    return;
  }
  const otherUrl = await tcpUrlOf(other);
  t.match(otherUrl, /^http:\/\/127\.0\.0\.1:[1-9]\d*$/, 'the url names the real port');
  t.equal((await tcp(otherUrl, '/healthz', { authorization: `Bearer ${token}` })).status, 200);
});
