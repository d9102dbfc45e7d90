import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { guestFiles } from '../../server/guest/guest-files.js';

/** The guest agent runs under busybox sh in busybox images and bash in Debian ones; dash is /bin/sh there. */
export const agentShells = [['dash'], ['bash'], ['busybox', 'sh']] as const;
export type AgentShell = (typeof agentShells)[number];

/** A tap skip reason when the shell is not installed, else false. */
export function shellSkip(shell: AgentShell): string | false {
  const found = spawnSync('sh', ['-c', `command -v ${shell[0]}`]).status === 0;
  return found ? false : `${shell[0]} is not installed (apt-get install -y ${shell[0]}), so the agent is not tested under it`;
}

export interface SandboxOptions {
  /** Put a usr/sbin/sshd in the tree, so the agent makes new SSH host keys. */
  sshd?: boolean;
  /** Put usr/lib/openssh/sshd-session beside it, as OpenSSH 9.8 and later install: sshd must then be reloaded. */
  sshdSession?: boolean;
  /** Put a usr/sbin/dropbear and its host key in the tree, as busybox images have after a first exec. */
  dropbear?: boolean;
  /** Whether the stand-in for perl's RNDRESEEDCRNG ioctl succeeds. Default true. */
  reseeds?: boolean;
  /** How long the stand-in for date takes to set the clock. */
  dateDelaySeconds?: number;
  /**
   * Say the guest is x86_64 (proc/sys/kernel/arch), so the agent sets the clock with perl.
   * 'fails': the perl stand-in cannot set it (as on a kernel refusing settimeofday).
   */
  x86?: true | 'fails';
  /** Write proc/net/tcp and tcp6 as the kernel would: ports 22 and 8080 listening beyond loopback. */
  netTables?: boolean;
}

// Listening (0A) on 0.0.0.0:22, 127.0.0.1:631 and 127.1.2.3:5000; an established connection from 22.
const TCP_TABLE = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0000000000000000 100 0 0 10 0
   1: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1002 1 0000000000000000 100 0 0 10 0
   2: 0302017F:1388 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1003 1 0000000000000000 100 0 0 10 0
   3: 0F02000A:0016 0202000A:B1C2 01 00000000:00000000 02:000A7B2A 00000000     0        0 1004 2 0000000000000000 20 4 30 10 -1
`;
// Listening on [::]:22 (again), [::]:8080, [::1]:25 and ::ffff:127.0.0.1:6000.
const TCP6_TABLE = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2001 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2002 1 0000000000000000 100 0 0 10 0
   2: 00000000000000000000000001000000:0019 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2003 1 0000000000000000 100 0 0 10 0
   3: 0000000000000000FFFF00000100007F:1770 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2004 1 0000000000000000 100 0 0 10 0
`;

/**
 * A tree standing in for the guest's / (BANGER_AGENT_ROOT), plus stand-ins for
 * date and perl, so that the agent's reidentify runs unprivileged and leaves the
 * test host's clock, hostname and RNG alone.
 */
export interface AgentSandbox {
  root: string;
  /** Environment for a shell that sources the agent. */
  env: NodeJS.ProcessEnv;
  /** Every `date -s` argument so far. */
  clockSets(): string[];
  /** Every call of the perl stand-in so far, one line of arguments each. */
  reseeds(): string[];
  read(path: string): string;
  readBytes(path: string): Buffer;
}

export async function agentSandbox(t: Test, options: SandboxOptions = {}): Promise<AgentSandbox> {
  const dir = await mkdtemp(join(tmpdir(), 'banger-agent-root-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'root');
  const bin = join(dir, 'bin');
  for (const path of ['etc/ssh', 'proc/sys/kernel', 'dev', 'run', 'usr/sbin']) await mkdir(join(root, path), { recursive: true });
  await mkdir(bin);
  await writeFile(join(root, 'etc/hostname'), 'banger\n');
  await writeFile(join(root, 'etc/hosts'), '127.0.0.1\tlocalhost\n127.0.1.1\tbanger\n::1\tlocalhost ip6-localhost ip6-loopback\n');
  await writeFile(join(root, 'proc/sys/kernel/hostname'), 'banger\n');
  if (options.netTables) {
    await mkdir(join(root, 'proc/net'));
    await writeFile(join(root, 'proc/net/tcp'), TCP_TABLE);
    await writeFile(join(root, 'proc/net/tcp6'), TCP6_TABLE);
  }
  if (options.sshd) {
    await script(join(root, 'usr/sbin/sshd'), 'exit 0');
    if (options.sshdSession) {
      await mkdir(join(root, 'usr/lib/openssh'), { recursive: true });
      await script(join(root, 'usr/lib/openssh/sshd-session'), 'exit 0');
    }
    for (const name of ['ssh_host_rsa_key', 'ssh_host_rsa_key.pub', 'ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub']) {
      await writeFile(join(root, 'etc/ssh', name), `old ${name}\n`);
    }
  }
  if (options.dropbear) {
    await script(join(root, 'usr/sbin/dropbear'), 'exit 0');
    await mkdir(join(root, 'etc/dropbear'));
    await writeFile(join(root, 'etc/dropbear/dropbear_ed25519_host_key'), 'old key\n');
  }
  const date = join(bin, 'date');
  await script(
    date,
    `dir=${shellQuote(bin)}
case "$1" in
-s) sleep ${options.dateDelaySeconds ?? 0}; printf '%s\\n' "$2" >>"$dir/date.log"; printf '%s\\n' "\${2#@}" >"$dir/now" ;;
+%s) cat "$dir/now" ;;
*) exit 1 ;;
esac`,
  );
  const perl = join(bin, 'perl');
  // Called as perl -e CODE URANDOM to reseed, or perl -e CODE SECONDS URANDOM [STAGED_KEY KEY]
  // to (rename the key and) set the clock too.
  await script(
    perl,
    `printf '%s\\n' "$*" >>${shellQuote(join(bin, 'perl.log'))}
if [ $# -eq 6 ]; then /bin/mv -f "$5" "$6" || exit 3; fi
if [ $# -ge 4 ]; then
  ${options.x86 === 'fails' ? 'exit 2' : `printf '%s\\n' "$3" >${shellQuote(join(bin, 'now'))}`}
fi
exit ${options.reseeds === false ? 1 : 0}`,
  );
  if (options.x86) await writeFile(join(root, 'proc/sys/kernel/arch'), 'x86_64\n');
  const lines = (path: string): string[] => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : []);
  return {
    root,
    env: { ...process.env, BANGER_AGENT_NO_MAIN: '1', BANGER_AGENT_ROOT: root, BANGER_AGENT_DATE: date, BANGER_AGENT_PERL: perl },
    clockSets: () => lines(join(bin, 'date.log')),
    reseeds: () => lines(join(bin, 'perl.log')),
    read: (path) => readFileSync(join(root, path), 'utf8'),
    readBytes: (path) => readFileSync(join(root, path)),
  };
}

async function script(path: string, body: string): Promise<void> {
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * A unix socket in QEMU's place whose every connection is served by the agent's
 * own `serve` loop, with the connection as the agent's port (fd 3).
 */
export async function agentOverSocket(t: Test, shell: AgentShell, env: NodeJS.ProcessEnv): Promise<{ path: string; stderr(): string }> {
  const dir = await mkdtemp(join(tmpdir(), 'banger-agent-sock-'));
  const path = join(dir, 'agent.sock');
  const children: ChildProcess[] = [];
  let stderr = '';
  // Paused, so that this process never reads what is meant for the agent.
  const server = createServer({ pauseOnConnect: true }, (socket) => {
    const [command, ...prefix] = shell;
    // The host closes after an answer; replies to resends still queued then must not kill the agent.
    const child = spawn(command, [...prefix, '-c', `trap '' PIPE; . "$1"; open_nap; serve`, 'banger-agent', guestFiles.agent], {
      stdio: ['ignore', 'ignore', 'pipe', socket],
      env,
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    children.push(child);
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  t.teardown(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });
  return { path, stderr: () => stderr };
}

export interface FakeSshdOptions {
  /** What the tree's proc/PID/comm says: 'sshd', or another name as in a stale pid file. */
  comm: string;
  /** After SIGHUP, listen again on a new socket this much later; null: ignore SIGHUP. */
  relistenAfterMs: number | null;
}

/**
 * A process in sshd's place: it listens on a real TCP socket, and on SIGHUP
 * closes it and listens on a new one, as sshd re-executing itself does. Its pid
 * goes into the tree's run/sshd.pid, and the tree's proc/PID/fd and proc/net
 * lead to the real ones, so the agent sees its sockets as the kernel lists them.
 */
export async function fakeSshd(t: Test, root: string, options: FakeSshdOptions): Promise<{ hangups(): number }> {
  const script = `
    const net = require('node:net');
    let server;
    const listen = () => { server = net.createServer().listen(0, '127.0.0.1', () => process.stdout.write('listening\\n')); };
    listen();
    const after = ${JSON.stringify(options.relistenAfterMs)};
    process.on('SIGHUP', () => {
      process.stdout.write('hup\\n');
      if (after === null) return;
      server.close();
      setTimeout(listen, after);
    });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill();
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      if (output.includes('listening')) resolve();
    });
  });
  const pid = String(child.pid);
  await writeFile(join(root, 'run/sshd.pid'), `${pid}\n`);
  await mkdir(join(root, 'proc', pid), { recursive: true });
  await writeFile(join(root, 'proc', pid, 'comm'), `${options.comm}\n`);
  await symlink(`/proc/${pid}/fd`, join(root, 'proc', pid, 'fd'));
  await symlink('/proc/net', join(root, 'proc/net'));
  return { hangups: () => output.split('\n').filter((line) => line === 'hup').length };
}
