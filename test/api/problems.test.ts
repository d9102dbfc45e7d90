// Problems every route shares, in-process: bodies that are not JSON or too large, unknown routes,
// failures Fastify's router answers itself, idempotency keys, bearer tokens and shutdown.
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { assertProblem } from '../helpers/api.js';
import { checkProblemCases, startApp, type ProblemCase } from '../helpers/app.js';
import { makeTempDir, type HttpResult } from '../helpers/daemon.js';
import { makeExt4Image, makeKernelFile } from '../helpers/ext4.js';

const app = await startApp(t);
const files = await makeTempDir(t, 'banger-problems-');
const rootfs = makeExt4Image(join(files, 'rootfs.ext4'), '16M');
const kernel = makeKernelFile(files);
const base = { rootfsPath: rootfs, kernelPath: kernel };

t.test('bodies, routes and URLs the router refuses are problems too', async (t) => {
  const huge = JSON.stringify({ ...base, name: 'huge', padding: 'x'.repeat(70 * 1024) });
  await checkProblemCases(t, app, [
    { name: 'a body that is not JSON', method: 'POST', path: '/images', body: '{"name": "broken", ', status: 422, code: 'validation-failed', detail: /not valid JSON/ },
    { name: 'an empty body declared as JSON', method: 'POST', path: '/images', body: '', status: 422, code: 'validation-failed', detail: /not valid JSON/ },
    { name: 'a text/plain body', method: 'POST', path: '/images', body: 'name=x', headers: { 'content-type': 'text/plain' }, status: 415, code: 'unsupported-media-type' },
    { name: 'a form body', method: 'POST', path: '/images', body: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415, code: 'unsupported-media-type' },
    {
      name: 'a body over 64 KiB',
      method: 'POST',
      path: '/images',
      body: huge,
      status: 413,
      code: 'body-too-large',
      check: (t) => t.ok(Buffer.byteLength(huge) > 64 * 1024, 'the body really is over 64 KiB'),
    },
    { name: 'an unknown route', method: 'GET', path: '/no/such/route', status: 404, code: 'not-found', detail: 'GET /no/such/route' },
    { name: 'an unsupported method', method: 'PUT', path: '/images', status: 404, code: 'not-found', detail: 'PUT /images' },
    { name: 'a malformed %-escape', method: 'GET', path: '/images/%E0%A4%A', status: 422, code: 'validation-failed', detail: /URL is not valid/ },
    { name: 'a path parameter over 1024 characters', method: 'GET', path: `/images/${'x'.repeat(2000)}`, status: 422, code: 'validation-failed', detail: /longer than 1024/ },
  ]);
});

t.test('Idempotency-Key: a replay gets the first response, another request with the key is refused', async (t) => {
  const body = { name: 'idem-reg', ...base };
  const key = { 'idempotency-key': 'register-0001' };
  const registered = await app.inject('POST', '/images', body, key);
  t.equal(registered.status, 201);
  const replayed = await app.inject('POST', '/images', body, key);
  t.equal(replayed.status, 201, 'the replay keeps 201, not the 200 of an update');
  t.equal(replayed.headers['idempotent-replayed'], 'true');
  t.same(replayed.body, registered.body);

  await checkProblemCases(t, app, [
    { name: 'the key with a changed body', method: 'POST', path: '/images', body: { ...body, docker: true }, headers: key, status: 422, code: 'idempotency-key-reused', detail: /POST \/images\b/ },
    { name: 'the key with another name', method: 'POST', path: '/images', body: { ...body, name: 'idem-reg-2' }, headers: key, status: 422, code: 'idempotency-key-reused' },
    { name: 'the key on another route', method: 'POST', path: '/images/idem-reg/promote', headers: key, status: 422, code: 'idempotency-key-reused' },
    {
      name: 'a key over 255 characters',
      method: 'POST',
      path: '/images/idem-reg/promote',
      headers: { 'idempotency-key': 'k'.repeat(256) },
      status: 422,
      code: 'validation-failed',
      fields: ['headers.idempotency-key'],
    },
  ]);
  t.equal((await app.inject('GET', '/images/idem-reg')).body.docker, false, 'the refused request changed nothing');
  t.equal((await app.inject('GET', '/images/idem-reg-2')).status, 404, 'nothing registered under the refused request');
});

t.test('Idempotency-Key: refusals are not kept, fields may come in any order, a duplicate in flight is refused', async (t) => {
  const later = join(files, 'later.ext4');
  const body = { name: 'idem-later', rootfsPath: later, kernelPath: kernel };
  const key = { 'idempotency-key': 'register-later' };
  const refused = await app.inject('POST', '/images', body, key);
  t.equal(refused.status, 422, 'the rootfs is not there yet');
  makeExt4Image(later, '16M');
  const accepted = await app.inject('POST', '/images', body, key);
  t.equal(accepted.status, 201, 'the same key works once the cause is fixed: the refusal was not kept');
  t.equal(accepted.headers['idempotent-replayed'], undefined);
  const reordered = await app.inject('POST', '/images', { kernelPath: kernel, rootfsPath: later, name: 'idem-later' }, key);
  t.equal(reordered.status, 201);
  t.equal(reordered.headers['idempotent-replayed'], 'true', 'the same fields in another order are the same request');

  const raceBody = { name: 'idem-race', ...base };
  const raceKey = { 'idempotency-key': 'register-race' };
  const answers = await Promise.all([app.inject('POST', '/images', raceBody, raceKey), app.inject('POST', '/images', raceBody, raceKey)]);
  t.same(answers.map((answer) => answer.status).sort(), [201, 409], 'one is handled, the other is told the first is in flight');
  const inFlight = answers.find((answer) => answer.status === 409) as HttpResult;
  assertProblem(t, inFlight, { status: 409, code: 'idempotency-key-in-flight' });
  const replay = await app.inject('POST', '/images', raceBody, raceKey);
  t.equal(replay.headers['idempotent-replayed'], 'true', 'afterwards the key replays');
});

t.test('the TCP listener app wants a bearer token', async (t) => {
  const token = '0123456789abcdef0123456789abcdef';
  const tcp = await startApp(t, { token });
  const challenged = (t: Test, res: HttpResult) => t.equal(res.headers['www-authenticate'], 'Bearer realm="banger"', 'WWW-Authenticate');
  const noToken = (method: string, path: string, headers?: Record<string, string>): ProblemCase => ({
    name: `no token: ${method} ${path}`,
    method,
    path,
    ...(headers ? { headers } : {}),
    status: 401,
    code: 'unauthorized',
    detail: /requires Authorization: Bearer/,
    check: (t, res) => {
      challenged(t, res);
      t.match(res.body.hint, /--token|BANGER_TOKEN/, 'the hint says where the token comes from');
    },
  });
  const wrong = (what: string, authorization: string): ProblemCase => ({
    name: `a wrong token: ${what}`,
    method: 'GET',
    path: '/images',
    headers: { authorization },
    status: 401,
    code: 'unauthorized',
    check: challenged,
  });

  await checkProblemCases(t, tcp, [
    // Over a real listener this is a smoke test in test/integration/api-auth.test.ts.
    noToken('GET', '/images'),
    noToken('GET', '/healthz'),
    noToken('GET', '/jobs'),
    noToken('GET', '/no/such/route'),
    // Only the routes the contract and its docs page are served from are public, not URLs that look like them.
    // inject resolves `..` and `%2e%2e` before routing; test/integration/api-auth.test.ts sends them raw.
    noToken('GET', '/images?x=/docs'),
    noToken('GET', '/docsx'),
    noToken('GET', '/docs/no-such-asset'),
    noToken('GET', '/openapi.jsonx'),
    noToken('POST', '/openapi.json'),
    // Refused before its body is looked at: no body, yet no 422.
    noToken('POST', '/images', { 'content-type': 'application/json' }),
    wrong('the last character differs', `Bearer ${token.replace(/f$/, '0')}`),
    wrong('one character more', `Bearer ${token}x`),
    wrong('its first half', `Bearer ${token.slice(0, 16)}`),
    wrong('an empty bearer', 'Bearer '),
    wrong('the Basic scheme', `Basic ${token}`),
    wrong('no scheme', token),
    { name: 'the right token, an unknown image', method: 'GET', path: '/images/nope', headers: { authorization: `Bearer ${token}` }, status: 404, code: 'image-not-found' },
  ]);

  const lowercase = await tcp.inject('GET', '/healthz', undefined, { authorization: `bearer ${token}` });
  t.equal(lowercase.status, 200, 'the scheme is case-insensitive');

  for (const path of ['/openapi.json', '/docs', '/docs/', '/docs/json', '/docs/static/swagger-ui.css', '/docs/static/swagger-initializer.js']) {
    const res = await tcp.inject('GET', path);
    t.equal(res.status, 200, `no token needed: GET ${path}`);
    t.notOk(res.headers['www-authenticate'], `GET ${path}: no challenge`);
  }
  const contract = (await tcp.inject('GET', '/openapi.json')).body;
  const shown = (await tcp.inject('GET', '/docs/json')).body;
  t.equal(shown.servers[0]?.url, '/', 'the docs page sends "Try it out" to the listener that served it');
  t.same(shown.servers.slice(1), contract.servers, 'then lists the contract\'s servers');
  t.same({ ...shown, servers: contract.servers }, contract, 'and shows the contract the daemon serves, otherwise unchanged');
  t.same(contract.paths['/openapi.json'].get.security, [], 'the contract says GET /openapi.json needs no token');
  t.notOk(contract.paths['/openapi.json'].get.responses['401'], 'and so never answers 401');
  t.notOk(Object.keys(contract.paths).some((path) => path.startsWith('/docs')), 'the docs page\'s own routes are no operations of the contract');
});

t.test('the TCP listener limits requests per address, before the token is checked', async (t) => {
  const token = '0123456789abcdef0123456789abcdef';
  const tcp = await startApp(t, { token, rateLimitPerMinute: 3 });
  const auth = { authorization: `Bearer ${token}` };
  const first = await tcp.inject('GET', '/healthz', undefined, auth);
  t.equal(first.status, 200);
  t.equal(first.headers['x-ratelimit-limit'], '3', 'the limit is announced');
  t.equal(first.headers['x-ratelimit-remaining'], '2');
  t.equal((await tcp.inject('GET', '/healthz', undefined, { authorization: 'Bearer wrong-token-0000000000' })).status, 401, 'a wrong token counts too');
  await tcp.inject('GET', '/healthz', undefined, auth);
  const limited = await tcp.inject('GET', '/healthz', undefined, auth);
  assertProblem(t, limited, { status: 429, code: 'rate-limited', detail: /More than 3 requests a minute/ });
  t.equal((await tcp.inject('GET', '/docs')).status, 429, 'the docs page, public as it is, is limited too');
  t.ok(Number(limited.headers['retry-after']) > 0, `Retry-After: ${limited.headers['retry-after']}`);
  const unix = await startApp(t);
  for (let i = 0; i < 5; i++) t.equal((await unix.inject('GET', '/healthz')).status, 200);
  t.equal((await unix.inject('GET', '/healthz')).headers['x-ratelimit-limit'], undefined, 'the unix socket has no limit');
});

t.test('while shutting down every request gets 503 and changes nothing', async (t) => {
  const draining = await startApp(t);
  draining.drain();
  const requests: Array<[string, string, unknown?]> = [
    ['GET', '/healthz'],
    ['GET', '/images'],
    ['POST', '/images', { name: 'late', ...base }],
    ['DELETE', '/vms?label=a=b'],
  ];
  for (const [method, path, body] of requests) {
    const res = await draining.inject(method, path, body);
    assertProblem(t, res, { status: 503, code: 'shutting-down' });
    t.equal(res.headers.connection, 'close', `${method} ${path}: the connection is closed`);
  }
  t.same(draining.daemon.services.images.list(500), [], 'no image was registered');
  t.same(draining.daemon.services.jobs.list({}, 500), [], 'no job was started');
});
