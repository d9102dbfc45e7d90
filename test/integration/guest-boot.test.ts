import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { AGENT_PROTOCOL_VERSION, queryAgent, reidentifyGuest } from '../../server/guest/agent-protocol.js';
import { BUSYBOX_PROBE_PORT, buildBusyboxRootfs } from '../../server/guest/busybox-rootfs.js';
import { buildInitrd, DEFAULT_INITRD_MODULES } from '../../server/guest/initrd.js';
import { kvmUsable } from '../../server/host/kvm.js';
import { qemuBootArgs } from '../../server/hypervisor/qemu/boot-args.js';
import { unixSocketTransport } from '../../server/hypervisor/unix-socket-transport.js';
import { makeExt4 } from '../../server/host/ext4.js';
import { ensureDefaultKernel } from '../../server/host/kernel/cache.js';
import { run, RunError, type RunResult } from '../../server/host/runner.js';
import { isAlive, processesMentioning } from '../helpers/api.js';
import { freePort, tailOf, testCacheRoot } from '../helpers/guest.js';

const BOOT_TIMEOUT_MS = 90_000;
const MiB = 1024 * 1024;

t.test('a busybox guest boots under QEMU and its agent answers', async (t) => {
  const kernelCache = join(testCacheRoot, 'kernels');
  const kernel = await ensureDefaultKernel(kernelCache);
  t.match(kernel.version, /^\d+\.\d+\.\d+-\d+-cloud-amd64$/, `kernel ${kernel.version}`);
  const again = await ensureDefaultKernel(kernelCache);
  t.same(again, kernel, 'second call is served from the cache');
  t.ok(existsSync(join(kernelCache, kernel.version, 'banger-kernel.json')), 'cache entry has its manifest');

  const dir = await mkdtemp(join(tmpdir(), 'banger-boot-'));
  const initrd = join(dir, 'initrd.img');
  const rootDir = join(dir, 'root');
  const baseImage = join(dir, 'rootfs.ext4');
  const overlay = join(dir, 'disk.qcow2');
  const agentSocket = join(dir, 'agent.sock');
  const consoleLog = join(dir, 'console.log');
  const stopQemu = new AbortController();
  let qemu: Promise<RunResult | RunError> | undefined;
  t.teardown(async () => {
    stopQemu.abort();
    await qemu;
    await rm(dir, { recursive: true, force: true });
  });

  const initrdResult = await buildInitrd(initrd, {
    modulesDir: kernel.modulesDir,
    kernelVersion: kernel.version,
    modules: DEFAULT_INITRD_MODULES,
  });
  t.ok(initrdResult.loadOrder.some((path) => path.endsWith('/virtio_blk.ko')), 'initrd loads virtio_blk');
  await buildBusyboxRootfs(rootDir, { modulesDir: kernel.modulesDir, kernelVersion: kernel.version });
  await makeExt4(baseImage, 256 * MiB, { fromDir: rootDir });
  await rm(rootDir, { recursive: true, force: true });
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', baseImage, overlay]);

  const hostPort = await freePort();
  const accel = (await kvmUsable()) ? 'kvm' : 'tcg';
  const args = qemuBootArgs({
    kernel: kernel.kernelPath,
    initrd,
    rootfs: overlay,
    memoryMiB: 256,
    cpus: 1,
    agentSocket,
    consoleLog,
    accel,
    hostForwards: [{ hostPort, guestPort: BUSYBOX_PROBE_PORT }],
  });

  const stopWaiting = new AbortController();
  let qemuPid: number | undefined;
  const started = Date.now();
  // The runner waits for exit, so QEMU runs as a pending command that the abort ends.
  const running: Promise<RunResult | RunError> = run('qemu-system-x86_64', args, {
    signal: stopQemu.signal,
    timeoutMs: 15 * 60 * 1000,
    onSpawn: (pid) => {
      qemuPid = pid;
    },
  }).catch((error: unknown) => {
    if (error instanceof RunError) return error;
    throw error;
  });
  qemu = running;
  void running.then(() => stopWaiting.abort());

  const exitReport = async (): Promise<string> => {
    const outcome = await Promise.race([running, new Promise<null>((resolve) => setTimeout(() => resolve(null), 10))]);
    if (outcome === null) return 'QEMU still running';
    return outcome instanceof RunError ? `QEMU ended: ${outcome.message}\n${outcome.stderr}` : 'QEMU exited with 0';
  };

  let health;
  try {
    health = await queryAgent(unixSocketTransport(agentSocket), { timeoutMs: BOOT_TIMEOUT_MS, signal: stopWaiting.signal });
  } catch (error) {
    t.fail(
      `guest agent did not answer (${error instanceof Error ? error.message : String(error)}); ${await exitReport()}\n` +
        `--- last 30 lines of the console log ---\n${tailOf(consoleLog, 30)}`,
    );
    return;
  }
  const bootMs = Date.now() - started;
  t.comment(`${accel}: agent answered ${bootMs} ms after QEMU started (guest uptime ${health.uptimeSeconds} s)`);

  t.equal(health.ok, true, 'health ok');
  t.equal(health.agentVersion, AGENT_PROTOCOL_VERSION, 'agent version');
  t.equal(health.hostname, 'banger', 'hostname');
  t.ok(health.uptimeSeconds > 0 && health.uptimeSeconds * 1000 < bootMs + 1000, `uptime ${health.uptimeSeconds} s is plausible`);
  // QEMU's user-mode network hands out 10.0.2.15 by DHCP.
  t.ok(health.addresses.includes('10.0.2.15/24'), `address from DHCP: ${health.addresses.join(', ')}`);

  // A new connection after the first one closed: the agent must notice and answer again.
  const ping = await queryAgent(unixSocketTransport(agentSocket), { command: 'ping', timeoutMs: 15_000, signal: stopWaiting.signal });
  t.equal(ping.ok, true, 'agent answers a second connection');

  // As a clone restored from a memory snapshot would be. A far-off time shows that
  // busybox date really took the clock; the second request brings it back.
  const agentTransport = unixSocketTransport(agentSocket);
  const future = new Date('2030-01-01T00:00:00Z');
  const reidentifyStarted = Date.now();
  const cloned = await reidentifyGuest(agentTransport, { hostname: 'clone-0', now: future, timeoutMs: 15_000, signal: stopWaiting.signal });
  t.comment(`reidentify answered in ${Date.now() - reidentifyStarted} ms`);
  t.match(cloned, { ok: true, hostname: 'clone-0', rngReseeded: false, sshHostKeys: 'discarded', repeat: false }, 'busybox: no perl to reseed; dropbear makes a new host key on its next connection');
  t.ok(cloned.clockSetTo >= future.getTime() / 1000 && cloned.clockSetTo < future.getTime() / 1000 + 30, `guest clock set to ${cloned.clockSetTo}`);
  const reidentified = await reidentifyGuest(agentTransport, { hostname: 'clone-1', timeoutMs: 15_000, signal: stopWaiting.signal });
  t.ok(Math.abs(reidentified.clockSetTo * 1000 - Date.now()) < 5000, 'guest clock back at the host\'s time');
  const renamed = await queryAgent(agentTransport, { command: 'health', timeoutMs: 15_000, signal: stopWaiting.signal });
  t.equal(renamed.hostname, 'clone-1', 'health reports the new hostname');

  // httpd is started by init alongside the agent, so give it a moment.
  let body = '';
  let lastError = '';
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`http://127.0.0.1:${hostPort}/`, { signal: AbortSignal.timeout(5000) });
      body = await response.text();
      if (response.ok) break;
      lastError = `HTTP ${response.status}`;
    } catch (error) {
      lastError = error instanceof Error ? `${error.message} ${String((error as { cause?: unknown }).cause ?? '')}` : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  t.equal(body, 'banger busybox guest\n', `guest service answers through hostfwd ${hostPort} (${lastError})`);

  const consoleText = await readFile(consoleLog, 'utf8');
  t.match(consoleText, /banger-initrd: switching to \/sbin\/init on \/dev\/vda/, 'initrd handed over to /sbin/init');
  t.match(consoleText, new RegExp(`banger-agent: version ${AGENT_PROTOCOL_VERSION} started`), 'agent logged its start');

  stopQemu.abort();
  const outcome = await running;
  t.ok(outcome instanceof RunError && outcome.reason === 'aborted', 'QEMU was stopped by us, not by itself');
  t.same(processesMentioning(dir), [], 'no QEMU process is left');
  t.ok(qemuPid !== undefined && !isAlive(qemuPid), 'QEMU pid is gone');
});
