/**
 * The image vocabulary shared by the HTTP schemas and the services.
 * It imports nothing, so db/, schemas/ and services/ can all depend on it without a cycle.
 */

export const recipes = ['debian-bookworm', 'busybox'] as const;
export type Recipe = (typeof recipes)[number];

/** A program an image starts at boot (a systemd unit on Debian, an rc.d script on busybox). */
export interface ImageService {
  name: string;
  /** A shell command line, run by /bin/sh -c. */
  command: string;
  /** A guest TCP port it serves: published and waited for like a requested port. */
  port: number | null;
  /** Runs as root when null. */
  user: string | null;
}

/** Lowercase, so that it can name a systemd unit and a file without escaping. */
export const serviceNamePattern = '^[a-z][a-z0-9-]{0,31}$';
export const serviceUserPattern = '^[a-z_][a-z0-9_-]{0,31}$';
export const maxServices = 16;
export const maxServiceCommandLength = 4096;
/** An exited service's log tail as the guest agent sends it: 20 lines of at most 300 bytes, joined by '\n' (the daemon refuses longer). */
export const maxServiceLogTailLength = 20 * 300 + 19;
