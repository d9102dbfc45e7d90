import { createHash } from 'node:crypto';
import t from 'tap';
import { parseListen, resolveConfig } from '../../server/config.js';
import { decodeCursor, encodeCursor, page } from '../../server/routes/cursor.js';
import { BangerError, problemCatalogue } from '../../server/services/errors.js';
import { normalizePackages, packagesHash } from '../../server/services/images/packages.js';
import { progressOf } from '../../server/services/jobs/job-view.js';

t.test('packages are normalised before hashing: sorted, trimmed, deduplicated', async (t) => {
  t.same(normalizePackages(['  curl ', 'vim', '', '# comment', 'curl', 'git # why']), ['curl', 'git', 'vim']);
  const expected = createHash('sha256').update('curl\ngit\nvim\n').digest('hex');
  t.equal(packagesHash(['vim', 'git', ' curl', 'curl']), expected);
  t.equal(packagesHash(['vim', 'git', 'curl']), packagesHash(['curl', 'git', 'vim']));
});

t.test('listen addresses', async (t) => {
  t.same(parseListen('127.0.0.1:7070'), { host: '127.0.0.1', port: 7070 });
  t.same(parseListen(':8080'), { host: '127.0.0.1', port: 8080 });
  t.same(parseListen('[::1]:9000'), { host: '::1', port: 9000 });
  t.throws(() => parseListen('localhost'), /expects HOST:PORT/);
  t.throws(() => parseListen('host:70000'), /expects HOST:PORT/);
});

t.test('config: flags over environment; TCP needs a token', async (t) => {
  const env = { BANGER_STATE_DIR: '/srv/banger', BANGER_SOCKET: '/run/banger.sock' };
  t.equal(resolveConfig({}, env).socketPath, '/run/banger.sock');
  t.equal(resolveConfig({ socket: '/tmp/x.sock' }, env).socketPath, '/tmp/x.sock');
  t.equal(resolveConfig({}, { BANGER_STATE_DIR: '/srv/banger' }).socketPath, '/srv/banger/banger.sock');
  t.throws(() => resolveConfig({ listen: '127.0.0.1:7070' }, env), /needs --token/);
  t.throws(() => resolveConfig({ listen: '127.0.0.1:7070', token: 'short' }, env), /at least 16/);
  t.equal(resolveConfig({ listen: '127.0.0.1:7070', token: 'x'.repeat(32) }, env).listen?.port, 7070);
  t.equal(resolveConfig({}, env).jobRetentionSeconds, 604800, 'finished jobs are kept a week by default');
  t.equal(resolveConfig({}, { ...env, BANGER_JOB_RETENTION_SECONDS: '0' }).jobRetentionSeconds, 0, '0 keeps them all');
  for (const bad of ['-1', '1.5', '7d']) t.throws(() => resolveConfig({}, { ...env, BANGER_JOB_RETENTION_SECONDS: bad }), /BANGER_JOB_RETENTION_SECONDS must be a whole number ≥ 0/);
});

t.test('cursors round-trip and reject garbage', async (t) => {
  const isName = (v: unknown): v is string => typeof v === 'string';
  t.equal(decodeCursor(encodeCursor('alpine'), isName), 'alpine');
  t.equal(decodeCursor(undefined, isName), undefined);
  t.throws(() => decodeCursor('%%%not-base64', isName), BangerError);
  t.throws(() => decodeCursor(encodeCursor(42), isName), { code: 'validation-failed' });
  const result = page(['a', 'b', 'c'], 2, (x) => x);
  t.same(result.items, ['a', 'b']);
  t.equal(decodeCursor(result.nextCursor ?? undefined, isName), 'b');
  t.equal(page(['a', 'b'], 2, (x) => x).nextCursor, null);
});

t.test('progress counts finished and skipped stages', async (t) => {
  const stage = (status: 'pending' | 'running' | 'succeeded' | 'skipped') => ({ name: status, status, startedAt: null, finishedAt: null });
  t.equal(progressOf([]), 0);
  t.equal(progressOf([stage('succeeded'), stage('skipped'), stage('running'), stage('pending')]), 50);
});

t.test('every problem code maps to a status and a title', async (t) => {
  for (const [code, entry] of Object.entries(problemCatalogue)) {
    t.ok(entry.status >= 400 && entry.status < 600, `${code} has an error status`);
    t.ok(entry.title.length > 0, `${code} has a title`);
  }
  const problem = new BangerError('image-in-use', 'used by vm-1', { hint: 'delete vm-1' }).toProblem();
  t.same(problem, {
    type: 'urn:banger:problem:image-in-use',
    title: 'Image is used by VMs',
    status: 409,
    code: 'image-in-use',
    detail: 'used by vm-1',
    hint: 'delete vm-1',
  });
});
