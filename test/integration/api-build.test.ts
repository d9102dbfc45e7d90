import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { request } from 'undici';
import { BUSYBOX_PROBE_PORT } from '../../server/guest/busybox-rootfs.js';
import { startDaemon, waitForJob, type TestDaemon } from '../helpers/daemon.js';
import { bootGuest, freePort, testCacheRoot } from '../helpers/guest.js';

const bootTimeoutMs = 120_000;

function debugfs(image: string, command: string): string {
  return execFileSync('debugfs', ['-R', command, image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** init starts the guest's service beside the agent, so it may need a moment more. */
async function httpStatusWithin(url: string, timeoutMs: number): Promise<number | string> {
  const deadline = Date.now() + timeoutMs;
  let last: number | string = 'no answer';
  while (Date.now() < deadline) {
    try {
      const response = await request(url, { headersTimeout: 5000, bodyTimeout: 5000 });
      await response.body.text();
      if (response.statusCode === 200) return 200;
      last = response.statusCode;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return last;
}

async function build(daemon: TestDaemon, body: Record<string, unknown>) {
  const res = await daemon.http('POST', '/images/builds', body);
  if (res.status !== 202) throw new Error(`build: ${res.status} ${res.text}`);
  return { accepted: res, job: await waitForJob(daemon, res.body.id, 10 * 60_000) };
}

t.test('image builds through the API', async (t) => {
  // The kernel cache is shared with other tests and kept between runs: state dirs come and go.
  const daemon = await startDaemon(t, { env: { BANGER_KERNEL_CACHE: join(testCacheRoot, 'kernels') } });

  await t.test('the busybox recipe builds a managed image that boots and whose agent answers', async (t) => {
    const { accepted, job } = await build(daemon, { name: 'bb', recipe: 'busybox' });
    t.equal(accepted.headers.location, `/jobs/${accepted.body.id}`);
    t.equal(job.status, 'succeeded', JSON.stringify(job.error));
    t.same(
      job.stages.map((stage: any) => stage.name),
      ['preflight', 'fetch_kernel', 'bootstrap_rootfs', 'install_packages', 'install_modules', 'install_guest_files', 'make_initrd', 'make_rootfs', 'make_work_seed', 'seed_ssh_key', 'write_metadata', 'persisted'],
    );
    t.same(job.stages.filter((stage: any) => !['succeeded', 'skipped'].includes(stage.status)), [], 'every stage succeeded or was skipped');
    const imageId = job.target.id;
    t.equal(job.logPath, join(daemon.stateDir, 'image-build', `${imageId}.log`));
    t.ok(existsSync(job.logPath), 'the build log is kept');

    const image = (await daemon.http('GET', '/images/bb')).body;
    t.equal(image.managed, true);
    t.equal(image.artifactDir, join(daemon.stateDir, 'images', imageId));
    for (const path of [image.rootfsPath, image.workSeedPath, image.kernelPath, image.initrdPath]) {
      t.ok(path.startsWith(image.artifactDir) && existsSync(path), `${path} is in the artifact dir`);
    }
    t.ok(existsSync(join(image.modulesDir, 'modules.dep')), 'the modules dir has modules.dep');
    const emptyListHash = createHash('sha256').update('').digest('hex');
    t.equal(image.packagesSha256, emptyListHash);
    t.equal(readFileSync(`${image.rootfsPath}.packages.sha256`, 'utf8').trim(), emptyListHash);

    const publicKey = readFileSync(join(daemon.stateDir, 'ssh', 'id_ed25519.pub'), 'utf8').trim();
    t.equal(debugfs(image.workSeedPath, 'cat /.ssh/authorized_keys').trim(), publicKey, 'the work seed holds the daemon key');
    t.match(debugfs(image.workSeedPath, 'stat /.ssh/authorized_keys'), /Mode:\s+0600[\s\S]*User:\s+0\s+Group:\s+0/);
    t.match(debugfs(image.workSeedPath, 'stat /.ssh'), /Type: directory\s+Mode:\s+0700/);
    t.match(image.seededSshPublicKeyFingerprint, /^SHA256:/);
    const version = image.modulesDir.split('/').pop();
    t.match(debugfs(image.rootfsPath, `stat /lib/modules/${version}/modules.dep`), /Type: regular/, 'modules are in the rootfs');
    t.match(debugfs(image.rootfsPath, 'cat /etc/banger-release'), new RegExp(`BANGER_IMAGE_ID=${imageId}`));
    t.notOk(existsSync(join(daemon.stateDir, 'image-build', `${imageId}.work`)), 'the build work dir is gone');

    const probePort = await freePort();
    const guest = await bootGuest(t, {
      kernel: image.kernelPath,
      initrd: image.initrdPath,
      rootfs: image.rootfsPath,
      workSeed: image.workSeedPath,
      hostForwards: [{ hostPort: probePort, guestPort: BUSYBOX_PROBE_PORT }],
    });
    const started = Date.now();
    const health = await guest.waitForAgent(bootTimeoutMs);
    t.comment(`${guest.accel}: agent answered ${Date.now() - started} ms after QEMU started`);
    t.ok(health.uptimeSeconds > 0, 'uptime reported');
    t.ok(health.addresses.some((address: string) => address.startsWith('10.0.2.15')), `addresses ${health.addresses}`);
    t.equal(await httpStatusWithin(`http://127.0.0.1:${probePort}/`, 20_000), 200, 'the guest TCP service answers through the forwarded port');
    await guest.stop();
  });

  await t.test('reseed writes the current key into a managed image', async (t) => {
    const res = await daemon.http('POST', '/images/bb/reseed');
    t.equal(res.status, 200, res.text);
    t.match(res.body.seededSshPublicKeyFingerprint, /^SHA256:/);
  });

  await t.test('a size too small for the content fails the job clearly and leaves nothing', async (t) => {
    const { job } = await build(daemon, { name: 'tiny', recipe: 'busybox', size: '64M' });
    t.equal(job.status, 'failed');
    t.equal(job.error.code, 'image-size-too-small');
    t.match(job.error.detail, /leaves no room/);
    t.match(job.error.hint, /at least \d+M/);
    t.equal(job.error.logPath, job.logPath, 'the problem carries the build log path');
    t.equal((await daemon.http('GET', '/images/tiny')).status, 404, 'no image row');
    t.notOk(existsSync(join(daemon.stateDir, 'images', job.target.id)), 'no artifact dir');
    t.same(readdirSync(join(daemon.stateDir, 'images')).filter((entry) => entry.includes('.build-')), [], 'no staging dir');
    t.notOk(existsSync(join(daemon.stateDir, 'image-build', `${job.target.id}.work`)), 'no work dir');
  });
});
