import { describe, expect, it } from 'vitest';
import { isTestbedError, SshAuthRefusedError } from '../../src/core/errors.js';
import { generateSshKeyPair } from '../../src/ssh/generate-ssh-key-pair.js';
import { waitForSsh } from '../../src/ssh/wait-for-ssh.js';
import { startTestSshServer } from './support/test-ssh-server.js';

describe('waitForSsh against an SSH server that answers but refuses', () => {
  it('fails within its auth grace, naming the user, when the key is refused', async () => {
    const server = await startTestSshServer({ acceptKey: false });
    try {
      const started = Date.now();
      const error = await waitForSsh(
        {
          host: '127.0.0.1',
          port: server.port,
          username: 'root',
          privateKey: generateSshKeyPair('t').privateKey,
        },
        { timeoutMs: 30_000, authGraceMs: 1_000 },
      ).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SshAuthRefusedError);
      expect(isTestbedError(error, 'TESTBED_SSH_AUTH_REFUSED')).toBe(true);
      expect((error as Error).message).toContain("refuses testbed's key for 'root'");
      expect((error as Error).message).toContain('sshUser');
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await server.close();
    }
  });

  it("names the image's own login user when it says so (Debian's root key)", async () => {
    const server = await startTestSshServer({
      acceptKey: true,
      answer: {
        stdout: 'Please login as the user "debian" rather than the user "root".\n',
        exitCode: 142,
      },
    });
    try {
      const error = await waitForSsh(
        { host: '127.0.0.1', port: server.port, username: 'root', privateKey: server.clientKey },
        { timeoutMs: 30_000 },
      ).catch((e: unknown) => e);
      expect(isTestbedError(error, 'TESTBED_SSH_AUTH_REFUSED')).toBe(true);
      expect((error as Error).message).toContain("it says to log in as 'debian'");
      expect((error as Error).message).toContain("sshUser: 'debian'");
    } finally {
      await server.close();
    }
  });
});
