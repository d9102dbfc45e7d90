import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { startDaemon, waitForJob, type TestDaemon } from '../helpers/daemon.js';
import { processesMentioning } from '../helpers/api.js';
import { bootGuest, freePort, testCacheRoot } from '../helpers/guest.js';

const execFileAsync = promisify(execFile);
const sshReadyTimeoutMs = 240_000;

async function debugfs(image: string, command: string): Promise<string> {
  return (await execFileAsync('debugfs', ['-R', command, image])).stdout;
}

async function startBuild(daemon: TestDaemon, body: Record<string, unknown>) {
  const res = await daemon.http('POST', '/images/builds', body);
  if (res.status !== 202) throw new Error(`build: ${res.status} ${res.text}`);
  return res.body;
}

function ssh(port: number, key: string, command: string, extra: string[] = []) {
  return execFileAsync(
    'ssh',
    ['-i', key, '-p', String(port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=10', '-o', 'BatchMode=yes', ...extra, 'root@127.0.0.1', command],
    { timeout: 30_000 },
  );
}

function leftovers(daemon: TestDaemon, imageId: string): string[] {
  const found = readdirSync(join(daemon.stateDir, 'images')).filter((entry) => entry.startsWith(imageId));
  if (existsSync(join(daemon.stateDir, 'image-build', `${imageId}.work`))) found.push(`${imageId}.work`);
  return found;
}

t.test('debian-bookworm builds', async (t) => {
  const daemon = await startDaemon(t, { env: { BANGER_KERNEL_CACHE: join(testCacheRoot, 'kernels') } });

  await t.test('an unknown package fails the job with apt\'s own message, and leaves nothing', async (t) => {
    const accepted = await startBuild(daemon, { name: 'nopkg', recipe: 'debian-bookworm', packages: ['banger-no-such-package'] });
    const job = await waitForJob(daemon, accepted.id, 300_000);
    t.equal(job.status, 'failed');
    t.equal(job.error.code, 'image-build-failed');
    t.match(job.error.detail, /Unable to locate package banger-no-such-package/);
    t.equal(job.error.logPath, join(daemon.stateDir, 'image-build', `${job.target.id}.log`));
    t.match(readFileSync(job.error.logPath, 'utf8'), /banger-no-such-package/, 'the log has the tool output');
    t.same(leftovers(daemon, job.target.id), [], 'no artifact, staging or work dir');
    t.equal((await daemon.http('GET', '/images/nopkg')).status, 404, 'no image row');
  });

  await t.test('cancel during bootstrap_rootfs kills mmdebstrap and leaves nothing', async (t) => {
    const accepted = await startBuild(daemon, { name: 'cancelled', recipe: 'debian-bookworm' });
    const imageId = accepted.target.id;
    const deadline = Date.now() + 120_000;
    for (;;) {
      const job = (await daemon.http('GET', `/jobs/${accepted.id}`)).body;
      const stage = job.stages.find((s: any) => s.name === 'bootstrap_rootfs');
      if (stage?.status === 'running' && processesMentioning(`${imageId}.work`).length > 0) break;
      if (job.status !== 'running' && job.status !== 'queued') throw new Error(`build ended before bootstrap: ${JSON.stringify(job)}`);
      if (Date.now() > deadline) throw new Error('bootstrap_rootfs never started');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const res = await daemon.http('POST', `/jobs/${accepted.id}/cancel`);
    t.equal(res.status, 200, res.text);
    t.equal(res.body.status, 'cancelled');
    t.equal(res.body.stages.find((s: any) => s.name === 'bootstrap_rootfs').status, 'cancelled');
    t.same(processesMentioning(`${imageId}.work`), [], 'no mmdebstrap, apt or dpkg process is left');
    t.same(leftovers(daemon, imageId), [], 'nothing left on disk');
  });

  await t.test('with one extra package: the package is in the rootfs, and the image boots to sshd accepting the daemon key', async (t) => {
    const accepted = await startBuild(daemon, { name: 'deb', recipe: 'debian-bookworm', packages: ['jq'] });
    const job = await waitForJob(daemon, accepted.id, 600_000);
    t.equal(job.status, 'succeeded', JSON.stringify(job.error));
    t.comment(`stages: ${job.stages.map((s: any) => `${s.name} ${s.status} ${s.durationMs ?? '-'}ms`).join(', ')}`);
    t.equal(job.stages.find((s: any) => s.name === 'install_packages').status, 'succeeded');
    const image = (await daemon.http('GET', '/images/deb')).body;
    t.match(await debugfs(image.rootfsPath, 'stat /usr/bin/jq'), /Type: regular/, 'jq is in the rootfs');
    t.match(await debugfs(image.rootfsPath, 'stat /usr/sbin/sshd'), /Type: regular/, 'sshd is in the rootfs');
    t.equal(readFileSync(image.packagesPath, 'utf8'), 'jq\n');

    const sshPort = await freePort();
    const guest = await bootGuest(t, {
      kernel: image.kernelPath,
      initrd: image.initrdPath,
      rootfs: image.rootfsPath,
      workSeed: image.workSeedPath,
      hostForwards: [{ hostPort: sshPort, guestPort: 22 }],
      memoryMiB: 512,
      cpus: 1,
    });
    const started = Date.now();
    await guest.waitForAgent(sshReadyTimeoutMs);
    t.comment(`agent answered after ${Date.now() - started} ms`);
    const key = join(daemon.stateDir, 'ssh', 'id_ed25519');
    let output = '';
    let lastError = '';
    while (Date.now() - started < sshReadyTimeoutMs) {
      try {
        output = (await ssh(sshPort, key, 'uname -a && jq --version')).stdout;
        break;
      } catch (error) {
        lastError = String((error as { stderr?: string }).stderr ?? error);
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    }
    t.comment(`ssh answered after ${Date.now() - started} ms`);
    t.match(output, /Linux banger .*cloud-amd64[\s\S]*jq-1\./, `ssh with the daemon key runs commands (last error: ${lastError})`);
    await t.rejects(
      ssh(sshPort, key, 'true', ['-o', 'PreferredAuthentications=password', '-o', 'PubkeyAuthentication=no']),
      'a password login is refused',
    );
    await guest.stop();
  });

  await t.test('a base rootfs (the image just built) takes more packages', async (t) => {
    const base = (await daemon.http('GET', '/images/deb')).body;
    if (!base.rootfsPath) return t.fail('the Debian image was not built');
    const accepted = await startBuild(daemon, { name: 'deb-plus', baseRootfs: base.rootfsPath, packages: ['tree'] });
    const job = await waitForJob(daemon, accepted.id, 600_000);
    t.equal(job.status, 'succeeded', JSON.stringify(job.error));
    t.equal(job.stages.find((s: any) => s.name === 'install_packages').status, 'succeeded');
    const image = (await daemon.http('GET', '/images/deb-plus')).body;
    t.match(await debugfs(image.rootfsPath, 'stat /usr/bin/tree'), /Type: regular/, 'tree was installed');
    t.match(await debugfs(image.rootfsPath, 'stat /usr/bin/jq'), /Type: regular/, 'what the base had is still there');
    t.match(await debugfs(image.rootfsPath, 'stat /usr/bin/su'), /Mode:\s+04755/, 'setuid bits survive the extraction');
  });
});
