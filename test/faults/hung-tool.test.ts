// A host tool that hangs: a real mkfs.ext4 stand-in that never returns (a shell script with a
// child in its process group, first on the daemon's PATH) makes an image build hang at make_rootfs.
// The daemon kills the whole process group at the tool's deadline (BANGER_TOOL_TIMEOUT_SECONDS
// caps every tool's), the job fails with tool-timeout naming the tool and the deadline, no
// process of the tool is left, no image, artifact, staging or work dir, and the daemon goes on.
import { chmodSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { imagesDirEntries, processesMentioning } from '../helpers/api.js';
import { makeTempDir, startDaemon, waitForJob } from '../helpers/daemon.js';
import { vmDaemonEnv } from '../helpers/vms.js';

// A sleep long enough to be this test's own: nothing else on the host sleeps for 86398 s.
const marker = '86398';

const toolDir = await makeTempDir(t, 'banger-hung-tool-');
const hungMkfs = join(toolDir, 'mkfs.ext4');
writeFileSync(hungMkfs, `#!/bin/sh\n# Hangs the way a stuck tool does, with a child of its own.\nsleep ${marker} &\nwait\n`);
chmodSync(hungMkfs, 0o755);
t.teardown(() => {
  for (const leftover of processesMentioning(`sleep ${marker}`)) process.kill(leftover.pid, 'SIGKILL');
});

const daemon = await startDaemon(t, {
  env: vmDaemonEnv({ PATH: `${toolDir}:${process.env.PATH}`, BANGER_TOOL_TIMEOUT_SECONDS: '10' }),
});

t.test('a hung mkfs is killed at its deadline and the build fails as tool-timeout', async (t) => {
  const started = Date.now();
  const accepted = await daemon.http('POST', '/images/builds', { name: 'stuck', recipe: 'busybox' });
  t.equal(accepted.status, 202, accepted.text);
  const job = await waitForJob(daemon, accepted.body.id, 5 * 60_000);
  const took = (Date.now() - started) / 1000;
  t.equal(job.status, 'failed');
  t.match(job.error, {
    status: 500,
    code: 'tool-timeout',
    detail: /mkfs\.ext4 timed out after 10s \(the BANGER_TOOL_TIMEOUT_SECONDS limit\); its process group was killed/,
    hint: /stopped at its deadline/,
    logPath: /\.log$/,
  });
  t.match(job.stages.find((stage: any) => stage.status === 'failed'), { name: 'make_rootfs' }, 'the stage that hung is the one that failed');
  t.ok(took < 120, `it gave up within its deadline and the kill grace (${took.toFixed(1)} s)`);
  t.same(processesMentioning(`sleep ${marker}`), [], "the tool's child went with it (its process group was killed)");
  t.equal((await daemon.http('GET', '/images/stuck')).status, 404, 'no image was recorded');
  t.same(imagesDirEntries(daemon.stateDir), [], 'no artifact or staging dir is left');
  const buildDir = join(daemon.stateDir, 'image-build');
  t.same(existsSync(buildDir) ? readdirSync(buildDir).filter((entry) => !entry.endsWith('.log')) : [], [], 'no work dir is left, only the log');
  t.equal(daemon.child.exitCode, null, 'the daemon is still running');
  t.equal((await daemon.http('GET', '/healthz')).status, 200);
});
