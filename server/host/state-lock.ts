import { randomBytes, createHash } from 'node:crypto';
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';

export class StateDirBusyError extends Error {}

export interface StateLock {
  /** Frees the lock (closes its socket) and removes the pid note. */
  release(): void;
}

const KEY_FILE = 'banger.lock.key';
/** For humans only (`cat banger.lock`): the holder's pid. Never read to decide anything. */
const PID_FILE = 'banger.lock';
const ASK_PID_TIMEOUT_MS = 1000;
/** How long a holder that does not say who it is may take to answer, or to finish dying. */
const SILENT_HOLDER_PATIENCE_MS = 10_000;

/**
 * One daemon per state dir: a second one would run crash recovery over the first one's live
 * jobs. The lock is a listening unix socket in Linux's abstract namespace: the kernel frees the
 * name as soon as its holder's descriptors close, when the last thread of a killed daemon has
 * exited, so a daemon killed with kill -9 (even one still an unreaped zombie) never blocks the next
 * start, and there is no stale lock to judge. libuv opens sockets close-on-exec, so the hypervisors
 * and tools the daemon starts never hold it.
 *
 * The name is a hash of the state dir's device and inode and of a random key kept in the state
 * dir (0600 in a 0700 dir): abstract names have no permissions, and a name anyone could compute
 * would let any local user squat it and keep the daemon from starting. Abstract names belong to a
 * network namespace: daemons in different network namespaces do not see each other's locks.
 */
export async function acquireStateLock(stateDir: string): Promise<StateLock> {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const name = lockName(stateDir, readOrCreateKey(stateDir));
  const deadline = Date.now() + SILENT_HOLDER_PATIENCE_MS;
  let server = await listenOn(name);
  while (server === null) {
    // A live holder answers with its pid. One that does not is busy, or dying: after kill -9 the
    // process is gone only once its last thread has exited, and then the kernel frees the name.
    const pid = await askHolderPid(name);
    if (pid !== null || Date.now() > deadline) {
      throw new StateDirBusyError(`another banger daemon${pid === null ? '' : ` (pid ${pid})`} is already running with the state dir ${stateDir}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    server = await listenOn(name);
  }
  // Nothing else may keep a process alive for the lock's sake (the in-process test app).
  server.unref();
  server.on('error', () => {});
  const pidFile = join(stateDir, PID_FILE);
  writePidNote(pidFile);
  let released = false;
  const held = server;
  return {
    release() {
      if (released) return;
      released = true;
      held.close();
      if (readPidNote(pidFile) === process.pid) rmSync(pidFile, { force: true });
    },
  };
}

/** The lock's socket, listening; null when another process holds the name. */
async function listenOn(name: string): Promise<Server | null> {
  const server = createServer({ allowHalfOpen: false }, (socket) => {
    // Whoever can read the key may ask who holds the lock: a refused daemon, for its message.
    socket.unref();
    socket.on('error', () => {});
    socket.end(`${process.pid}\n`);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ path: name }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server;
  } catch (error) {
    server.close();
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') return null;
    throw error;
  }
}

/** The abstract socket name (a leading NUL) for this state dir. */
function lockName(stateDir: string, key: string): string {
  const { dev, ino } = statSync(stateDir);
  return `\0banger-state-${createHash('sha256').update(`${dev}:${ino}:${key}`).digest('hex')}`;
}

/** The state dir's lock key, made on first use; two daemons starting at once agree on one key. */
function readOrCreateKey(stateDir: string): string {
  const path = join(stateDir, KEY_FILE);
  for (let attempt = 0; attempt < 3; attempt += 1) {
    let text: string | null = null;
    try {
      text = readFileSync(path, 'utf8').trim();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (text !== null) {
      if (!/^[0-9a-f]{64}$/.test(text)) {
        throw new Error(`the state lock key ${path} is damaged; stop any banger daemon using ${stateDir} and remove the file`);
      }
      return text;
    }
    // Written in full under a private name, then linked into place: link never replaces, so
    // of two daemons creating the key at once one wins and the other reads the winner's key.
    const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(temporary, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    try {
      linkSync(temporary, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      unlinkSync(temporary);
    }
  }
  throw new Error(`could not read or create the state lock key ${path}`);
}

/** The pid the holder answers with on its lock socket; null when it does not answer in time. */
function askHolderPid(name: string): Promise<number | null> {
  return new Promise((resolve) => {
    let text = '';
    const socket = connect({ path: name });
    const done = (pid: number | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(pid);
    };
    const timer = setTimeout(() => done(null), ASK_PID_TIMEOUT_MS);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => done(/^\d+\n$/.test(text) ? Number(text.trim()) : null));
    socket.on('error', () => done(null));
  });
}

function writePidNote(path: string): void {
  try {
    const fd = openSync(path, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify({ pid: process.pid })}\n`);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Only a note for humans: the lock itself is held.
  }
}

function readPidNote(path: string): number | null {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as { pid?: unknown };
    return typeof parsed.pid === 'number' ? parsed.pid : null;
  } catch {
    return null;
  }
}
