import { createReadStream } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';

/**
 * A saved VM state travels over a unix socket between QEMU and this process, which reads or
 * writes the state file itself (QMP `migrate unix:…` / `migrate-incoming unix:…`).
 *
 * Not `exec:cat > FILE`: QEMU 7.2 closes a command channel by SIGTERMing the command if it has
 * not exited yet (io/channel-command.c), so the tail of the stream can still be in flight in
 * the shell's `cat` when QEMU reports the migration completed, and the path would go through
 * /bin/sh. Not `fd:` with `getfd`: that needs SCM_RIGHTS on the QMP socket, which node:net
 * cannot send. Here the file is whole and synced exactly when `done` resolves.
 */

export interface StateReceiver {
  /** Bytes written, once QEMU has closed the stream and the file is synced. */
  done: Promise<number>;
  /** Stops listening and drops the connection; an unfinished done then rejects. */
  close(): void;
}

async function copyInto(socket: Socket, handle: FileHandle): Promise<number> {
  let bytes = 0;
  for await (const chunk of socket as AsyncIterable<Buffer>) {
    await handle.write(chunk, 0, chunk.length, bytes);
    bytes += chunk.length;
  }
  await handle.sync();
  return bytes;
}

/** Listens on socketPath for QEMU's outgoing migration and writes it into file, which must not exist. */
export async function receiveState(socketPath: string, file: string): Promise<StateReceiver> {
  await rm(socketPath, { force: true });
  const handle = await open(file, 'wx', 0o600);
  const server = createServer();
  let connection: Socket | undefined;
  let fail: (error: Error) => void = () => {};

  const done = new Promise<number>((resolve, reject) => {
    fail = reject;
    server.once('connection', (socket) => {
      connection = socket;
      // One stream per migration: nobody else gets to connect.
      server.close();
      copyInto(socket, handle).then(resolve, reject);
    });
    server.once('error', reject);
  });
  const finished = done.finally(async () => {
    await handle.close();
    await rm(socketPath, { force: true });
  });
  // Callers that give up on a failed migration never await done.
  finished.catch(() => {});

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
      server.listen(socketPath);
    });
  } catch (error) {
    fail(error as Error);
    throw error;
  }
  return {
    done: finished,
    close: () => {
      server.close();
      connection?.destroy();
      fail(new Error(`the state stream on ${socketPath} was closed before it ended`));
    },
  };
}

/** Streams file into the socket QEMU listens on for an incoming migration. */
export async function sendState(socketPath: string, file: string): Promise<void> {
  const socket = connect(socketPath);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  await pipeline(createReadStream(file), socket);
}
