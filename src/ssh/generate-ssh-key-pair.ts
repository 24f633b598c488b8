import ssh2 from 'ssh2';

/** An ed25519 key pair in the formats SSH servers and `authorized_keys` expect. */
export interface SshKeyPair {
  /** Private key, OpenSSH PEM (`-----BEGIN OPENSSH PRIVATE KEY-----`), unencrypted. */
  privateKey: string;
  /** Public key line, `ssh-ed25519 AAAA... comment`. */
  publicKey: string;
}

/** Generates a fresh ed25519 key pair in-process (no ssh-keygen needed). */
export function generateSshKeyPair(comment = 'testbed'): SshKeyPair {
  const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment });
  return { privateKey: pair.private, publicKey: pair.public.trim() };
}
