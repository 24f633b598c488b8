import ssh2 from 'ssh2';

/** An ed25519 key pair in the formats SSH servers and `authorized_keys` expect. */
export interface SshKeyPair {
  /** Private key, OpenSSH PEM (`-----BEGIN OPENSSH PRIVATE KEY-----`), unencrypted. */
  privateKey: string;
  /** Public key line, `ssh-ed25519 AAAA... comment`. */
  publicKey: string;
}

/** An ed25519 public key blob: the type string and the 32-byte key, each length-prefixed. */
const ED25519_BLOB_BYTES = 4 + 'ssh-ed25519'.length + 4 + 32;

/** True when `pair` parses back and carries a whole 32-byte public key. */
function isWhole(pair: SshKeyPair): boolean {
  const parsed = ssh2.utils.parseKey(pair.privateKey);
  if (parsed instanceof Error) return false;
  const blob = parsed.getPublicSSH();
  return (
    blob.length === ED25519_BLOB_BYTES && pair.publicKey.split(' ')[1] === blob.toString('base64')
  );
}

/**
 * Generates a fresh ed25519 key pair in-process (no ssh-keygen needed). ssh2's generator drops a
 * key's leading zero byte (about 1 key in 180): such a key parses nowhere and its machine never
 * lets testbed in, so it is thrown away and another one made.
 */
export function generateSshKeyPair(comment = 'testbed'): SshKeyPair {
  for (;;) {
    const generated = ssh2.utils.generateKeyPairSync('ed25519', { comment });
    const pair = { privateKey: generated.private, publicKey: generated.public.trim() };
    if (isWhole(pair)) return pair;
  }
}
