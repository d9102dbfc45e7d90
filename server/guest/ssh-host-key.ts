import ssh2 from 'ssh2';

/**
 * An Ed25519 SSH host key for one guest, in the two halves a reidentify request carries: the
 * base64 body of the OpenSSH private key file (its PEM lines joined, without the armour lines,
 * which OpenSSH reads back as one line) and the base64 public key blob.
 */
export interface GuestSshHostKey {
  privateKeyBase64: string;
  publicKeyBase64: string;
}

/**
 * Made on the host, natively, in a millisecond: ssh-keygen inside a guest restored under
 * software emulation took 0.2 to 0.6 s of its vCPU, and needed the guest's RNG reseeded first.
 */
export function newGuestSshHostKey(): GuestSshHostKey {
  const pair = ssh2.utils.generateKeyPairSync('ed25519');
  const privateKeyBase64 = pair.private
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('-----'))
    .join('');
  const [type, publicKeyBase64] = pair.public.trim().split(' ');
  if (type !== 'ssh-ed25519' || publicKeyBase64 === undefined) throw new Error(`unexpected public key from ssh2: ${pair.public}`);
  return { privateKeyBase64, publicKeyBase64 };
}
