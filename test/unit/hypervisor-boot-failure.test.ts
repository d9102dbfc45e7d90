import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { BootFailureError, classifyBootFailure, describeBootFailure } from '../../server/hypervisor/boot-failure.js';
import { waitForGuestAgent } from '../../server/hypervisor/boot-wait.js';
import type { VmProcess } from '../../server/hypervisor/driver.js';
import { lastLines, readLogTail } from '../../server/hypervisor/log-tail.js';
import { unixSocketTransport } from '../../server/hypervisor/unix-socket-transport.js';

const panicConsole = [
  '[    2.1] VFS: Cannot open root device "vda" or unknown-block(0,0): error -6',
  '[    2.2] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)',
  '[    2.3] CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0-56-cloud-amd64',
].join('\r\n');

t.test('classification', async (t) => {
  t.equal(classifyBootFailure({ consoleTail: panicConsole, exited: true, stderrTail: '' }), 'kernel_panic', 'a panic explains the exit');
  t.equal(classifyBootFailure({ consoleTail: panicConsole, exited: false, stderrTail: '' }), 'kernel_panic', 'seen before QEMU exits');
  t.equal(
    classifyBootFailure({ consoleTail: '', exited: true, stderrTail: "qemu-system-x86_64: -drive file=/x: Could not open '/x': No such file or directory\n" }),
    'hypervisor_exited',
  );
  t.equal(classifyBootFailure({ consoleTail: 'banger-initrd: ERROR: root /dev/vda did not appear\nbanger-initrd: powering off\n', exited: true, stderrTail: '' }), 'hypervisor_exited');
  t.equal(classifyBootFailure({ consoleTail: '[ 1.0] Linux version 6.1\n', exited: false, stderrTail: '' }), 'agent_timeout');
  t.equal(classifyBootFailure({ consoleTail: '', exited: false, stderrTail: '' }), 'agent_timeout');
  t.equal(classifyBootFailure({ consoleTail: 'panic=-1 on the command line\n', exited: false, stderrTail: '' }), 'agent_timeout', 'the word panic alone is not a panic');
});

t.test('descriptions name the evidence', async (t) => {
  t.equal(
    describeBootFailure('kernel_panic', { consoleTail: panicConsole, exited: true, stderrTail: '' }),
    'the guest kernel panicked: Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)',
  );
  t.equal(
    describeBootFailure('hypervisor_exited', { consoleTail: '', exited: true, stderrTail: 'warning: x\nqemu-system-x86_64: cannot set up guest memory\n\n' }),
    'the hypervisor exited: qemu-system-x86_64: cannot set up guest memory',
  );
  t.equal(
    describeBootFailure('hypervisor_exited', { consoleTail: 'banger-initrd: ERROR: cannot load virtio_blk.ko: x\r\n', exited: true, stderrTail: '' }),
    'the guest powered off during early boot: banger-initrd: ERROR: cannot load virtio_blk.ko: x',
  );
  t.equal(describeBootFailure('hypervisor_exited', { consoleTail: '', exited: true, stderrTail: '' }), 'the hypervisor exited before the guest agent answered');
  t.equal(describeBootFailure('agent_timeout', { consoleTail: '', exited: false, stderrTail: '' }, 120_000), 'the guest agent did not answer within 120 s; the guest wrote nothing to its console');
  t.equal(describeBootFailure('agent_timeout', { consoleTail: 'booting\n', exited: false, stderrTail: '' }), 'the guest agent did not answer');
  const error = new BootFailureError('kernel_panic', { consoleTail: panicConsole, exited: true, stderrTail: '' });
  t.equal(error.kind, 'kernel_panic');
  t.match(error.message, /Unable to mount root fs/);
});

t.test('log tails', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'banger-tail-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const log = join(dir, 'console.log');
  t.equal(await readLogTail(log), '', 'a log not written yet');
  await writeFile(log, `${'x'.repeat(100)}\nline 2\nline 3\n`);
  t.equal(await readLogTail(log, 20), 'line 2\nline 3\n', 'starts at a line boundary');
  t.equal(await readLogTail(log), `${'x'.repeat(100)}\nline 2\nline 3\n`);
  t.equal(lastLines('a\r\nb\r\nc\r\n', 2), 'b\nc');
  t.equal(lastLines('a\nb', 5), 'a\nb');
});

async function fakeVm(t: Test): Promise<VmProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'banger-bootwait-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return {
    hypervisor: 'qemu',
    pid: 1,
    startTime: '1',
    accel: 'tcg',
    controlSocket: join(dir, 'qmp.sock'),
    // Never created: the agent query keeps retrying until the watcher ends it.
    agentSocket: join(dir, 'agent.sock'),
    consoleLog: join(dir, 'console.log'),
    stderrLog: join(dir, 'qemu.log'),
  };
}

/** The two driver answers the wait needs: a process state the test decides, and the VM's real agent socket, where nothing answers. */
function fakeDriver(running: boolean) {
  return { isRunning: () => running, agentTransport: (vm: VmProcess) => unixSocketTransport(vm.agentSocket) };
}

t.test('waiting for the agent ends early with the right class', async (t) => {
  const exitedVm = await fakeVm(t);
  await writeFile(exitedVm.stderrLog, 'qemu-system-x86_64: -m 99999999: cannot set up guest memory\n');
  let started = Date.now();
  const exited = await waitForGuestAgent(fakeDriver(false), exitedVm, { timeoutMs: 30_000 }).catch((error: unknown) => error);
  t.ok(exited instanceof BootFailureError && exited.kind === 'hypervisor_exited', String(exited));
  t.match((exited as Error).message, /cannot set up guest memory/);
  t.ok(Date.now() - started < 5000, 'did not wait for the timeout');

  const panicVm = await fakeVm(t);
  let consoleSeen = 0;
  setTimeout(() => void writeFile(panicVm.consoleLog, panicConsole), 300);
  started = Date.now();
  const panicked = await waitForGuestAgent(fakeDriver(true), panicVm, { timeoutMs: 30_000, onConsoleOutput: () => consoleSeen++ }).catch((error: unknown) => error);
  t.ok(panicked instanceof BootFailureError && panicked.kind === 'kernel_panic', String(panicked));
  t.ok(Date.now() - started < 5000, 'a panic ends the wait while the hypervisor still runs');
  t.equal(consoleSeen, 1, 'console output reported once');

  const quietVm = await fakeVm(t);
  const timedOut = await waitForGuestAgent(fakeDriver(true), quietVm, { timeoutMs: 800 }).catch((error: unknown) => error);
  t.ok(timedOut instanceof BootFailureError && timedOut.kind === 'agent_timeout', String(timedOut));

  const cancelled = new AbortController();
  setTimeout(() => cancelled.abort(), 200);
  const aborted = await waitForGuestAgent(fakeDriver(true), quietVm, { timeoutMs: 30_000, signal: cancelled.signal }).catch((error: unknown) => error);
  t.notOk(aborted instanceof BootFailureError, 'a cancellation is not a boot failure');
});
