import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';
import { generateSshKeyPair } from '../../../src/ssh/generate-ssh-key-pair.js';

/** An in-process SSH server on 127.0.0.1 that refuses every key, or accepts its client key and answers each exec the same. */
export async function startTestSshServer(options: {
  acceptKey: boolean;
  answer?: { stdout: string; exitCode: number };
}): Promise<{ port: number; clientKey: string; close(): Promise<void> }> {
  const client = generateSshKeyPair('client');
  const allowed = ssh2.utils.parseKey(client.publicKey);
  if (allowed instanceof Error) throw allowed;
  const server = new ssh2.Server({ hostKeys: [generateSshKeyPair('host').privateKey] }, (conn) => {
    conn.on('authentication', (ctx) => {
      const ok =
        options.acceptKey &&
        ctx.method === 'publickey' &&
        ctx.key.data.equals(allowed.getPublicSSH());
      if (ok) ctx.accept();
      else ctx.reject(['publickey']);
    });
    conn.on('session', (accept) => {
      accept().on('exec', (acceptExec) => {
        const stream = acceptExec();
        stream.write(options.answer?.stdout ?? '');
        stream.exit(options.answer?.exitCode ?? 0);
        stream.end();
      });
    });
    conn.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    port,
    clientKey: client.privateKey,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
