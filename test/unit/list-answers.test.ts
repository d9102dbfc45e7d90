// Lists are kept and paged without going stale or slow: the database's stamp moves with every write
// (on the daemon's connection or another), a moved stamp drops every kept answer, and job pages
// seek to their cursor in an index and still visit every job once.
import Sqlite from 'better-sqlite3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import t, { type Test } from 'tap';
import { openDatabase } from '../../server/db/database.js';
import { dataStamp } from '../../server/db/repositories/data-stamp.js';
import { JobRepository, type JobRow } from '../../server/db/repositories/jobs.js';
import { KeptAnswers, matchesIfNoneMatch, negotiateCoding } from '../../server/http/kept-answers.js';

async function openTemporary(t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'banger-list-answers-'));
  const file = join(dir, 'banger.db');
  const database = openDatabase(file);
  t.teardown(async () => {
    database.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { file, database };
}

function jobRow(id: string, createdAt: string, status: JobRow['status']): JobRow {
  return {
    id,
    kind: 'test.list',
    status,
    selectionType: null,
    selectionName: null,
    selectionQuery: null,
    stages: [],
    progress: 0,
    result: null,
    error: null,
    logPath: null,
    cancellable: false,
    processes: [],
    scratchPaths: [],
    createdAt,
    startedAt: null,
    finishedAt: null,
  };
}

t.test('the data stamp moves with every write, from this connection or another, and not with reads', async (t) => {
  const { file, database } = await openTemporary(t);
  const jobs = new JobRepository(database.db);
  const stamp = dataStamp(database.db);
  const first = stamp();
  jobs.list({}, 10);
  t.equal(stamp(), first, 'a read leaves it');
  jobs.insert(jobRow('a', '2026-01-01T00:00:00.000Z', 'succeeded'), []);
  const inserted = stamp();
  t.not(inserted, first, 'an insert moves it');
  jobs.update('a', { progress: 50 });
  const updated = stamp();
  t.not(updated, inserted, 'an update moves it');
  jobs.update('no-such-job', { progress: 50 });
  t.equal(stamp(), updated, 'an update of no row leaves it');
  const other = new Sqlite(file);
  try {
    other.prepare('update jobs set progress = 60').run();
  } finally {
    other.close();
  }
  t.not(stamp(), updated, "another connection's commit moves it");
  t.equal(jobs.dataStamp(), stamp(), 'the repositories give the same stamp');
});

t.test('kept answers last while the stamp does, within their limits', async (t) => {
  const kept = new KeptAnswers({ maxBytes: 10, maxAnswers: 2 });
  let made = 0;
  const make = (text: string) => () => {
    made++;
    return text;
  };
  t.equal(kept.answer('s1', 'a', make('[1]')).body.toString(), '[1]');
  t.equal(kept.answer('s1', 'a', make('[2]')).body.toString(), '[1]', 'the same stamp and key: the kept answer');
  t.equal(made, 1);
  t.equal(kept.answer('s2', 'a', make('[3]')).body.toString(), '[3]', 'a new stamp: made again');
  kept.answer('s2', 'b', make('[4]'));
  kept.answer('s2', 'c', make('[5]'));
  t.equal(kept.answer('s2', 'a', make('[6]')).body.toString(), '[6]', 'past maxAnswers the oldest goes');
  t.equal(kept.answer('s2', 'c', make('[7]')).body.toString(), '[5]', 'a newer one stays');
  t.equal(kept.answer('s2', 'big', make('[12345678901]')).body.toString(), '[12345678901]', 'over maxBytes: answered, not kept');
  t.equal(kept.answer('s2', 'big', make('[0]')).body.toString(), '[0]');
  t.throws(() => kept.answer('s2', 'bad', () => {
    throw new Error('unreadable cursor');
  }));
  t.equal(kept.answer('s2', 'bad', make('[8]')).body.toString(), '[8]', 'a failed make keeps nothing');
});

t.test('job pages seek by (created_at, id): every job once, newest first, ties by id, with and without a status', async (t) => {
  const { database } = await openTemporary(t);
  const jobs = new JobRepository(database.db);
  // Three jobs to a timestamp, so that pages end inside a run of equal created_at.
  const rows = Array.from({ length: 30 }, (_, i) =>
    jobRow(`job-${String(i).padStart(2, '0')}`, `2026-01-01T00:00:${String(Math.floor(i / 3)).padStart(2, '0')}.000Z`, i % 2 === 0 ? 'succeeded' : 'failed'),
  );
  for (const row of [...rows].reverse()) jobs.insert(row, []);
  const newestFirst = [...rows].sort((a, b) => (a.createdAt === b.createdAt ? b.id.localeCompare(a.id) : b.createdAt.localeCompare(a.createdAt)));
  for (const status of [undefined, 'succeeded'] as const) {
    const walked: string[] = [];
    let after: { createdAt: string; id: string } | undefined;
    for (;;) {
      const page = jobs.list({ status }, 4, after);
      walked.push(...page.map((job) => job.id));
      const last = page.at(-1);
      if (page.length < 4 || !last) break;
      after = { createdAt: last.createdAt, id: last.id };
    }
    t.same(walked, newestFirst.filter((row) => status === undefined || row.status === status).map((row) => row.id), `status ${status ?? 'any'}`);
  }
  const plan = (sql: string) => database.sqlite.prepare(`explain query plan ${sql}`).all('x', 'y', 'z').map((row) => (row as { detail: string }).detail).join('; ');
  t.match(plan('select id from jobs where status = ? and (created_at, id) < (?, ?) order by created_at desc, id desc'), /SEARCH jobs USING (COVERING )?INDEX jobs_status_created_at/);
  t.notMatch(plan('select id from jobs where status = ? and (created_at, id) < (?, ?) order by created_at desc, id desc'), /TEMP B-TREE/, 'no sort of all the jobs of a status');
});

t.test('an answer’s ETag is a hash of its bytes; If-None-Match is compared weakly, as a list or *', async (t) => {
  const kept = new KeptAnswers();
  const first = kept.answer('s1', 'a', () => '[1]');
  t.equal(kept.answer('s2', 'a', () => '[1]').etag, first.etag, 'the same bytes under another stamp: the same tag');
  t.not(kept.answer('s3', 'a', () => '[2]').etag, first.etag, 'other bytes: another tag');
  t.ok(matchesIfNoneMatch(first.etag, first.etag));
  t.ok(matchesIfNoneMatch(`W/${first.etag}`, first.etag), 'W/ does not matter for GET');
  t.ok(matchesIfNoneMatch(`"x" , ${first.etag}`, first.etag), 'one of a list');
  t.ok(matchesIfNoneMatch(' * ', first.etag));
  for (const header of [undefined, '', '"x"', first.etag.slice(1, -1), `${first.etag}x`]) t.notOk(matchesIfNoneMatch(header, first.etag), `not ${header}`);
});

t.test('Accept-Encoding picks br or gzip by q-value, then br; identity when asked for or nothing offered fits', async (t) => {
  const cases: Array<[string | undefined, string | undefined]> = [
    [undefined, undefined],
    ['', undefined],
    ['gzip, deflate, br', 'br'],
    ['gzip, deflate', 'gzip'],
    ['GZIP', 'gzip'],
    ['*', 'br'],
    ['br;q=0, gzip', 'gzip'],
    ['gzip;q=0.5, br;q=0.4', 'gzip'],
    ['identity;q=1, br;q=0.5', undefined],
    ['deflate', undefined],
    ['br;q=0', undefined],
    ['zstd, x;q=abc', undefined],
  ];
  for (const [header, coding] of cases) t.equal(negotiateCoding(header), coding, `${JSON.stringify(header)}: ${coding ?? 'identity'}`);
});

t.test('a compressed answer is made once, kept with its answer and counted in its limits, under a tag of its own', async (t) => {
  const page = (n: number) => JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ n, i, name: `vm-${i}` })));
  const plain = page(1);
  const kept = new KeptAnswers({ maxBytes: 2 * plain.length, maxAnswers: 10 });
  const answer = kept.answer('s1', 'a', () => plain);
  const br = kept.coded(answer, 'br');
  const gzip = kept.coded(answer, 'gzip');
  t.equal(brotliDecompressSync(br.body).toString(), plain, 'br holds the page');
  t.equal(gunzipSync(gzip.body).toString(), plain, 'gzip holds the page');
  t.ok(br.body.length < plain.length / 5 && gzip.body.length < plain.length / 5, `smaller: ${plain.length} → br ${br.body.length}, gzip ${gzip.body.length}`);
  t.same([br.etag, gzip.etag], [`${answer.etag.slice(0, -1)}-br"`, `${answer.etag.slice(0, -1)}-gzip"`], 'a tag for each coding, from the page’s');
  t.equal(kept.coded(answer, 'br').body, br.body, 'asked again: the kept bytes, not compressed again');
  t.equal(kept.answer('s1', 'a', () => '[]'), answer, 'the answer is still kept with its codings');

  // A second page fills the limit together with the first one's codings: the first goes, the new one stays.
  const second = kept.answer('s1', 'b', () => page(2));
  t.equal(kept.answer('s1', 'a', () => page(3)).body.toString(), page(3), 'the oldest answer made room');
  t.equal(kept.answer('s1', 'b', () => '[]'), second, 'the newer one is kept');
  const secondBr = kept.coded(second, 'br');
  t.equal(brotliDecompressSync(secondBr.body).toString(), page(2), 'the second page in br');
  t.equal(kept.answer('s1', 'b', () => '[]'), second, 'coding an answer never drops that answer');
  const dropped = kept.answer('s2', 'c', () => page(4));
  kept.answer('s2', 'd', () => page(5));
  kept.answer('s2', 'e', () => page(6));
  t.equal(brotliDecompressSync(kept.coded(dropped, 'br').body).toString(), page(4), 'an answer no longer kept can still be coded');
  t.same(dropped.coded, {}, 'and its coding is not kept');
});
