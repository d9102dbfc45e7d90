// The pieces of the full-disk handling that need no full disk: what counts as one, the size
// settings, and the guard's decisions over a real reserve file in a temp dir. The full disk itself
// is test/faults/full-disk.test.ts.
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import t from 'tap';
import { parseSpaceSetting } from '../../server/config.js';
import { describeBytes } from '../../server/domain/byte-size.js';
import { isOutOfSpace } from '../../server/host/free-space.js';
import { run, RunError } from '../../server/host/runner.js';
import { BangerError } from '../../server/services/errors.js';
import { StorageGuard } from '../../server/services/storage/storage-guard.js';

const MiB = 1024 * 1024;

t.test('what counts as a full disk', async (t) => {
  const errno = (code: string) => Object.assign(new Error(`${code}: write`), { code });
  t.ok(isOutOfSpace(errno('ENOSPC')), 'ENOSPC');
  t.ok(isOutOfSpace(errno('EDQUOT')), 'EDQUOT');
  t.ok(isOutOfSpace(Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' })), "SQLite's SQLITE_FULL");
  t.ok(isOutOfSpace(new Error('wrapped', { cause: errno('ENOSPC') })), 'a cause');
  const failedCp = await run('sh', ['-c', 'echo "cp: error writing \'/x\': No space left on device" >&2; exit 1']).catch((error: unknown) => error);
  t.type(failedCp, RunError);
  t.ok(isOutOfSpace(failedCp), "a tool's stderr");
  t.notOk(isOutOfSpace(errno('EACCES')), 'EACCES is not');
  const tooSmall = await run('sh', ['-c', 'echo "mkfs.ext4: Could not allocate block in ext2 filesystem" >&2; exit 1']).catch((error: unknown) => error);
  t.notOk(isOutOfSpace(tooSmall), 'a full image (mkfs inside its own filesystem) is not the host disk');
  t.notOk(isOutOfSpace(undefined));
  t.notOk(isOutOfSpace('ENOSPC'), 'a bare string is not an error');
});

t.test('the size settings', async (t) => {
  t.equal(parseSpaceSetting('X', undefined, 7), 7, 'unset: the default');
  t.equal(parseSpaceSetting('X', '0', 7), 0, '0 turns it off');
  t.equal(parseSpaceSetting('X', '1G', 7), 1024 * MiB);
  t.equal(parseSpaceSetting('X', '512M', 7), 512 * MiB);
  t.equal(parseSpaceSetting('X', '1048576', 7), MiB, 'a byte count');
  t.throws(() => parseSpaceSetting('BANGER_MIN_FREE_SPACE', 'lots', 7), /BANGER_MIN_FREE_SPACE takes 0, a byte count or a size such as 512M or 2G, got "lots"/);
  t.throws(() => parseSpaceSetting('X', '-1', 7));
});

t.test('byte counts in messages', async (t) => {
  t.equal(describeBytes(0), '0 bytes');
  t.equal(describeBytes(122_880), '120 KiB');
  t.equal(describeBytes(17_670_144), '16.9 MiB');
  t.equal(describeBytes(48 * MiB), '48 MiB');
  t.equal(describeBytes(3 * 1024 * MiB), '3 GiB');
  t.equal(describeBytes(1536 * MiB), '1.5 GiB');
});

t.test('the guard over a real reserve file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'banger-storage-guard-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const reservePath = join(dir, 'space-reserve');
  const logger = pino({ level: 'silent' });
  const guard = new StorageGuard({ dir, reservePath, settings: { minFreeBytes: MiB, reserveBytes: 2 * MiB }, logger });

  await guard.holdReserve();
  t.ok(existsSync(reservePath), 'the reserve is made');
  t.equal(statSync(reservePath).mode & 0o777, 0o600);
  t.ok(statSync(reservePath).blocks * 512 >= 2 * MiB, 'with its blocks allocated');
  t.match(guard.health(), { reserveHeld: true, concerns: [] });

  guard.require('a test', 4 * MiB);
  t.pass('work that fits is let through');
  const free = guard.freeBytes();
  const refused = (() => {
    try {
      guard.require('a huge test', free * 2);
    } catch (error) {
      return error;
    }
    return undefined;
  })();
  t.type(refused, BangerError);
  t.match((refused as BangerError).toProblem(), { status: 507, code: 'insufficient-storage', detail: /a huge test needs .* free \(.* for it, plus the 1 MiB BANGER_MIN_FREE_SPACE keeps free\)/ });
  t.ok(((refused as BangerError).toProblem().neededBytes ?? 0) > free, 'neededBytes is over what is free');

  guard.makeRoom('a delete');
  t.ok(existsSync(reservePath), 'with room to spare, a delete leaves the reserve alone');

  let attempts = 0;
  const written = guard.withRoom(() => {
    attempts += 1;
    if (attempts === 1) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    return 'written';
  });
  t.equal(written, 'written', 'a write that met a full disk is tried again…');
  t.equal(attempts, 2);
  t.notOk(existsSync(reservePath), '…once the reserve is given up');
  t.throws(
    () => guard.withRoom(() => {
      throw Object.assign(new Error('disk full'), { code: 'ENOSPC' });
    }),
    { code: 'ENOSPC' },
    'with no reserve left, the failure stands',
  );

  const problem = guard.fullDiskError(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }))?.toProblem();
  t.match(problem, { status: 507, code: 'insufficient-storage', detail: /is full .*no space left on device/, hint: /then retry/ });
  t.ok(Number.isInteger(problem?.freeBytes));
  t.equal(problem?.neededBytes, undefined, 'a write that met a full disk needed no known amount');
  t.equal(guard.fullDiskError(new BangerError('vm-not-found', 'no such VM')), undefined, 'other problems stay as they are');
  const buildFailed = new BangerError('image-build-failed', 'install_modules failed', { cause: Object.assign(new Error('x'), { code: 'ENOSPC' }) });
  t.match(guard.fullDiskError(buildFailed)?.toProblem(), { code: 'insufficient-storage', detail: /install_modules failed/ }, 'a step that failed on a full disk says so');

  await guard.holdReserve();
  t.ok(existsSync(reservePath), 'with room again, the reserve is made again');
});
