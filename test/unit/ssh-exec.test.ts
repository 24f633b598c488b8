import { once } from 'node:events';
import { type AddressInfo, createServer } from 'node:net';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSshKeyPair } from '../../src/ssh/generate-ssh-key-pair.js';
import { sshExec } from '../../src/ssh/ssh-exec.js';
import type { SshTarget } from '../../src/ssh/ssh-target.js';
import { waitForSsh } from '../../src/ssh/wait-for-ssh.js';

// An in-process SSH server that answers each exec with what it received: the remote command
// string on stdout, stdin on stderr, and an exit code taken from a `exit:N` command. It answers
// testbed's prologue line as a shell would, with a process group id, and records kill commands.
const clientKey = generateSshKeyPair('client');
const allowed = ssh2.utils.parseKey(clientKey.publicKey);
const PGID = 4242;
const kills: string[] = [];
let server: ssh2.Server;
let target: SshTarget;

beforeAll(async () => {
  if (allowed instanceof Error) throw allowed;
  server = new ssh2.Server({ hostKeys: [generateSshKeyPair('host').privateKey] }, (client) => {
    client.on('authentication', (ctx) => {
      const ok =
        ctx.method === 'publickey' &&
        ctx.username === 'root' &&
        ctx.key.data.equals(allowed.getPublicSSH());
      if (ok) ctx.accept();
      else ctx.reject(['publickey']);
    });
    client.on('session', (accept) => {
      accept().on('exec', (acceptExec, _reject, info) => {
        const stream = acceptExec();
        const [prologue = '', command = ''] = info.command.split(/\n(.*)/s);
        if (prologue.includes('testbed_pgid')) stream.stderr.write(`testbed-pgid ${PGID}\n`);
        if (command.startsWith('kill ')) kills.push(command);
        if (command === 'sleep') return;
        const input: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => input.push(chunk));
        stream.on('end', () => {
          stream.write(command);
          stream.stderr.write(Buffer.concat(input));
          stream.exit(Number(/^exit:(\d+)$/.exec(command)?.[1] ?? 0));
          stream.end();
        });
      });
    });
    client.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  target = { host: '127.0.0.1', port, username: 'root', privateKey: clientKey.privateKey };
});

afterAll(() => {
  server.close();
});

describe('sshExec', () => {
  it('sends an argument array quoted for the remote shell and returns output and exit code', async () => {
    const result = await sshExec(target, ['echo', "it's $HOME"]);
    expect(result).toEqual({ stdout: `echo 'it'\\''s $HOME'`, stderr: '', exitCode: 0 });
  });

  it('resolves with a non-zero exit code instead of rejecting', async () => {
    expect((await sshExec(target, 'exit:3')).exitCode).toBe(3);
  });

  it('writes input to the command', async () => {
    expect((await sshExec(target, 'cat', { input: 'hello\n' })).stderr).toBe('hello\n');
  });

  it('rejects with a TimeoutError when the command outlives timeoutMs, having killed its group', async () => {
    kills.length = 0;
    await expect(sshExec(target, 'sleep', { timeoutMs: 300 })).rejects.toMatchObject({
      code: 'TESTBED_TIMEOUT',
    });
    expect(kills).toEqual([`kill -9 -- -${PGID}`]);
  });

  it('rejects with the abort reason when the signal aborts, having killed its group', async () => {
    kills.length = 0;
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stop')), 200);
    await expect(sshExec(target, 'sleep', { signal: controller.signal })).rejects.toThrow('stop');
    expect(kills).toEqual([`kill -9 -- -${PGID}`]);
  });

  it('names the target and the fix when the key is refused', async () => {
    const stranger = { ...target, privateKey: generateSshKeyPair().privateKey };
    await expect(sshExec(stranger, 'true')).rejects.toMatchObject({
      code: 'TESTBED_COMMAND_FAILED',
      message: expect.stringMatching(/ssh -p \d+ root@127\.0\.0\.1[\s\S]*accepts the key/),
    });
  });
});

describe('a forwarded port whose guest is not up yet (accepts, then stays silent)', () => {
  it('is given up after identTimeoutMs instead of the whole timeout', async () => {
    const silent = createServer(() => {}).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    try {
      const port = (silent.address() as AddressInfo).port;
      const started = Date.now();
      await expect(
        sshExec({ ...target, port }, 'true', { timeoutMs: 10_000, identTimeoutMs: 200 }),
      ).rejects.toMatchObject({
        code: 'TESTBED_TIMEOUT',
        message: expect.stringContaining('SSH server identification'),
      });
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      silent.close();
    }
  });
});

describe('waitForSsh', () => {
  it('resolves once the server answers', async () => {
    await expect(waitForSsh(target, { timeoutMs: 5_000 })).resolves.toBeUndefined();
  });

  it('gives up at the deadline with the last connection error as cause', async () => {
    const closed = { ...target, port: 1 };
    const error = await waitForSsh(closed, { timeoutMs: 800 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TESTBED_TIMEOUT' });
    expect(String((error as Error).cause)).toMatch(/ECONNREFUSED/);
  });
});
