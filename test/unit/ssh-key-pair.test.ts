import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { generateSshKeyPair } from '../../src/ssh/generate-ssh-key-pair.js';
import { writeSshKeyFiles } from '../../src/ssh/write-ssh-key-files.js';

describe('generateSshKeyPair', () => {
  it('returns an OpenSSH ed25519 private key and its authorized_keys line', () => {
    const pair = generateSshKeyPair('run-1@testbed');
    expect(pair.privateKey).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    expect(pair.publicKey).toMatch(/^ssh-ed25519 AAAA[A-Za-z0-9+/=]+ run-1@testbed$/);
    const parsed = ssh2.utils.parseKey(pair.privateKey);
    if (parsed instanceof Error) throw parsed;
    expect(parsed.type).toBe('ssh-ed25519');
    expect(pair.publicKey.split(' ')[1]).toBe(parsed.getPublicSSH().toString('base64'));
  });

  it('never hands out a key ssh2 cannot parse back (its generator drops leading zero bytes)', () => {
    // About 1 in 180 generated keys used to be malformed: 2000 make one all but certain.
    for (let i = 0; i < 2000; i++) {
      const pair = generateSshKeyPair();
      const parsed = ssh2.utils.parseKey(pair.privateKey);
      if (parsed instanceof Error) throw new Error(`key ${i} does not parse: ${parsed.message}`);
      expect(parsed.getPublicSSH().length).toBe(51);
    }
  });

  it('gives a different key every call', () => {
    expect(generateSshKeyPair().publicKey).not.toBe(generateSshKeyPair().publicKey);
  });
});

describe('writeSshKeyFiles', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('writes the private key with mode 0600 and the public key next to it', async () => {
    dir = await mkdtemp(join(tmpdir(), 'testbed-keys-'));
    const pair = generateSshKeyPair();
    const files = await writeSshKeyFiles(dir, pair);
    expect(files.privateKeyPath).toBe(join(dir, 'id_ed25519'));
    expect((await stat(files.privateKeyPath)).mode & 0o777).toBe(0o600);
    expect(await readFile(files.privateKeyPath, 'utf8')).toBe(pair.privateKey);
    expect(await readFile(files.publicKeyPath, 'utf8')).toBe(`${pair.publicKey}\n`);
  });
});
