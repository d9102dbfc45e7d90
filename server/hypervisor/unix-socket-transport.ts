import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AgentTransport } from '../guest/agent-protocol.js';

/** The agent channel as a unix socket the hypervisor listens on (QEMU's virtio-serial chardev). */
export function unixSocketTransport(path: string): AgentTransport {
  return {
    description: `unix socket ${path}`,
    open: () =>
      new Promise<Duplex>((resolve, reject) => {
        const socket = connect(path);
        socket.once('connect', () => {
          socket.off('error', reject);
          resolve(socket);
        });
        socket.once('error', reject);
      }),
  };
}
