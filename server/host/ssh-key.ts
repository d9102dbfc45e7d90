import { createHash, randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './runner.js';

export interface SshIdentity {
  privateKeyPath: string;
  publicKeyPath: string;
  /** The single authorized_keys-style line, trimmed. */
  publicKey: string;
  /** "SHA256:..." exactly as `ssh-keygen -lf` prints it. */
  fingerprint: string;
}

const KEY_NAME = 'id_ed25519';
const KEY_COMMENT = 'banger';

function parsePublicKeyLine(line: string): { type: string; blob: Buffer } {
  const [type, encoded] = line.trim().split(/\s+/);
  if (!type || !encoded || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) {
    throw new Error('not an OpenSSH public key line');
  }
  const blob = Buffer.from(encoded, 'base64');
  // The blob starts with its own key type as an SSH string; a mismatch means the
  // line is garbled rather than merely unusual.
  if (blob.length < 4) throw new Error('not an OpenSSH public key line');
  const typeLength = blob.readUInt32BE(0);
  if (4 + typeLength > blob.length || blob.subarray(4, 4 + typeLength).toString('latin1') !== type) {
    throw new Error(`public key blob does not match its type ${type}`);
  }
  return { type, blob };
}

/** Same value as `ssh-keygen -lf` prints: unpadded base64 SHA-256 of the key blob. */
export function fingerprintOfPublicKey(line: string): string {
  const { blob } = parsePublicKeyLine(line);
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

function usablePublicKey(text: string | null): string | null {
  if (text === null) return null;
  const line = text.trim();
  if (line.includes('\n')) return null;
  try {
    parsePublicKeyLine(line);
    return line;
  } catch {
    return null;
  }
}

async function generateKeyPair(privateKeyPath: string, publicKeyPath: string): Promise<void> {
  // Generate under a temporary name and move into place, so a crash mid-way never
  // leaves a truncated private key that later runs would trust.
  const tmp = `${privateKeyPath}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await run('ssh-keygen', ['-t', 'ed25519', '-N', '', '-C', KEY_COMMENT, '-f', tmp, '-q'], { timeoutMs: 60_000 });
    await chmod(tmp, 0o600);
    // Public half first: a present private key then implies a matching public key.
    await rename(`${tmp}.pub`, publicKeyPath);
    await rename(tmp, privateKeyPath);
  } finally {
    await rm(tmp, { force: true });
    await rm(`${tmp}.pub`, { force: true });
  }
}

/**
 * Loads the daemon's SSH key pair from <dir>/ssh, creating it on first use.
 * The public half is rebuilt from the private key if it went missing.
 */
export async function ensureSshIdentity(dir: string): Promise<SshIdentity> {
  const sshDir = join(dir, 'ssh');
  const privateKeyPath = join(sshDir, KEY_NAME);
  const publicKeyPath = `${privateKeyPath}.pub`;

  await mkdir(sshDir, { recursive: true, mode: 0o700 });
  // mkdir's mode is ignored for an existing directory and is subject to umask.
  await chmod(sshDir, 0o700);

  if (!(await exists(privateKeyPath))) {
    await generateKeyPair(privateKeyPath, publicKeyPath);
  }
  // ssh refuses private keys that others can read.
  await chmod(privateKeyPath, 0o600);

  let publicKey = usablePublicKey(await readIfExists(publicKeyPath));
  if (publicKey === null) {
    const derived = await run('ssh-keygen', ['-y', '-f', privateKeyPath], { timeoutMs: 60_000 });
    publicKey = usablePublicKey(derived.stdout);
    if (publicKey === null) throw new Error(`ssh-keygen -y produced no usable public key for ${privateKeyPath}`);
    await writeFile(publicKeyPath, `${publicKey}\n`, { mode: 0o644 });
  }

  return { privateKeyPath, publicKeyPath, publicKey, fingerprint: fingerprintOfPublicKey(publicKey) };
}
