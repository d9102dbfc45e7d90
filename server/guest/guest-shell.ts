import { randomBytes } from 'node:crypto';
import ssh2 from 'ssh2';
import { AgentError, queryAgent, type AgentShellStarted, type AgentTransport } from './agent-protocol.js';

/**
 * An SSH connection to a guest over its shell port (docs/guest-agent.md, "Exec and files"):
 * the host attaches to the port, asks the agent to start the guest's SSH server in inetd mode
 * on it, then speaks SSH through it with the daemon's key. SSH gives exec with separate stdout
 * and stderr, exit codes and signals, several channels at once with flow control, and SFTP,
 * over a channel that needs no guest network.
 */

export interface GuestShellOptions {
  shell: AgentTransport;
  agent: AgentTransport;
  /** The daemon's private key (OpenSSH format), authorized for root in every guest. */
  privateKey: string | Buffer;
  /** Bound on the whole connect: agent request and SSH handshake. */
  timeoutMs: number;
}

export class GuestShellError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GuestShellError';
  }
}

/**
 * The server's host key is not checked: the stream is the VM's own hypervisor socket, which
 * only root on this host can open, so nothing can stand between daemon and guest.
 */
const acceptOwnGuest = (): boolean => true;

/** How long a request can sit unread in the guest before the next ping wakes it; an idle guest wakes as often. */
const stallNudgeMs = 3000;

/** An open SSH connection to a guest, and which server answers it (the command line differs). */
export interface GuestShell {
  client: ssh2.Client;
  server: AgentShellStarted['server'];
  /** Channels the daemon's commands hold open now (see prepareCommand in services/exec/guest-shells.ts). */
  channelsInUse: number;
  /** Commands that ended since the last one started: their group files go with the next command line. */
  endedCommands: string[];
}

export async function openGuestShell(options: GuestShellOptions): Promise<GuestShell> {
  const deadline = Date.now() + options.timeoutMs;
  const socket = await options.shell.open().catch((error: unknown) => {
    throw new GuestShellError(`cannot attach to the guest shell port (${options.shell.description}): ${messageOf(error)}`, { cause: error });
  });
  const client = new ssh2.Client();
  try {
    // Attached first: a server started before the host is there reads end-of-file and exits.
    const token = randomBytes(8).toString('hex');
    const { server } = await queryAgent(options.agent, { command: 'shell', args: { token }, timeoutMs: Math.max(1000, deadline - Date.now()) }).catch((error: unknown) => {
      const why = error instanceof AgentError && error.code === 'refused' ? error.message : `the guest agent did not start an SSH server: ${messageOf(error)}`;
      throw new GuestShellError(why, { cause: error });
    });
    await new Promise<void>((resolve, reject) => {
      client.once('ready', () => {
        client.off('error', reject);
        resolve();
      });
      client.once('error', reject);
      client.connect({
        sock: socket,
        username: 'root',
        privateKey: options.privateKey,
        hostVerifier: acceptOwnGuest,
        readyTimeout: Math.max(1000, deadline - Date.now()),
        // Not to find a dropped connection (the hypervisor socket does not drop silently) but to
        // end a stall: now and then a request the daemon sent sat in the guest unread (an SFTP
        // rename, the first write of an upload) until more bytes came down the port, for minutes
        // (bench/upload-stall.ts). A ping every few seconds is those bytes. No count: a paused
        // guest answers its pings once it runs again.
        keepaliveInterval: stallNudgeMs,
        keepaliveCountMax: Number.POSITIVE_INFINITY,
      });
    });
    return { client, server, channelsInUse: 0, endedCommands: [] };
  } catch (error) {
    // ssh2 may still report the socket's end after this; an 'error' nobody listens to would end the daemon.
    client.on('error', () => {});
    client.end();
    socket.destroy();
    if (error instanceof GuestShellError) throw error;
    throw new GuestShellError(`SSH to the guest over its shell port failed: ${messageOf(error)}`, { cause: error });
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
