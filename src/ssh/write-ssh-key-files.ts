import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SshKeyPair } from './generate-ssh-key-pair.js';

/** Paths of a key pair written to disk. */
export interface SshKeyFiles {
  /** Private key file, mode 0600 (ssh clients refuse wider modes). */
  privateKeyPath: string;
  /** Public key file (`<name>.pub`), mode 0644. */
  publicKeyPath: string;
}

/** Writes `pair` into `dir` as `<name>` and `<name>.pub`; the private key is never world-readable. */
export async function writeSshKeyFiles(
  dir: string,
  pair: SshKeyPair,
  name = 'id_ed25519',
): Promise<SshKeyFiles> {
  const privateKeyPath = join(dir, name);
  const publicKeyPath = `${privateKeyPath}.pub`;
  // Created with 0600 so the key is never readable by others, not even between write and chmod.
  await writeFile(privateKeyPath, pair.privateKey, { mode: 0o600 });
  await chmod(privateKeyPath, 0o600);
  await writeFile(publicKeyPath, `${pair.publicKey}\n`, { mode: 0o644 });
  return { privateKeyPath, publicKeyPath };
}
