import { once } from 'node:events';
import { type AddressInfo, createServer } from 'node:net';
import { Readable } from 'node:stream';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSshKeyPair } from '../../src/ssh/generate-ssh-key-pair.js';
import { sshExec } from '../../src/ssh/ssh-exec.js';
import { SshSession } from '../../src/ssh/ssh-session.js';
import type { SshTarget } from '../../src/ssh/ssh-target.js';
import { waitForSsh } from '../../src/ssh/wait-for-ssh.js';

// An in-process SSH server that answers each exec with what it received: the remote command
// string on stdout, stdin on stderr, and an exit code taken from a `exit:N` command. It answers
// testbed's prologue line as a shell would, with a process group id, and records kill commands.
// `sleep` runs until a kill; `drop` ends the client's connection; `connections` counts logins.
// `vanish:N` closes its first N channels before the command starts (no prologue line, no exit
// status), as dropbear does to a channel opened while the last command's exit is pending;
// `half` starts (prologue line), then closes without an exit status.
const clientKey = generateSshKeyPair('client');
const allowed = ssh2.utils.parseKey(clientKey.publicKey);
const PGID = 4242;
const kills: string[] = [];
let connections = 0;
const sleepers: ssh2.ServerChannel[] = [];
const vanished = new Map<string, number>();
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
    client.on('ready', () => connections++);
    client.on('session', (accept) => {
      accept().on('exec', (acceptExec, _reject, info) => {
        const stream = acceptExec();
        const [prologue = '', command = ''] = info.command.split(/\n(.*)/s);
        const vanish = /^vanish:(\d+)$/.exec(command);
        const times = vanished.get(command) ?? 0;
        if (vanish && times < Number(vanish[1])) {
          vanished.set(command, times + 1);
          return stream.close();
        }
        if (prologue.includes('testbed_pgid')) stream.stderr.write(`testbed-pgid ${PGID}\n`);
        if (command === 'half') return stream.close();
        // Kills come on a channel of their own, without the prologue.
        if (info.command.startsWith('kill ')) {
          kills.push(info.command);
          for (const sleeping of sleepers.splice(0)) {
            sleeping.exit('KILL');
            sleeping.end();
          }
        }
        if (command === 'sleep') return sleepers.push(stream);
        if (command === 'drop') return client.end();
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
    expect(kills).toEqual([`kill -9 -- -${PGID} 2>/dev/null`]);
  });

  it('rejects with the abort reason when the signal aborts, having killed its group', async () => {
    kills.length = 0;
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stop')), 200);
    await expect(sshExec(target, 'sleep', { signal: controller.signal })).rejects.toThrow('stop');
    expect(kills).toEqual([`kill -9 -- -${PGID} 2>/dev/null`]);
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

describe('SshSession', () => {
  it('runs every command of a session over one connection, concurrent ones on their own channels', async () => {
    const session = new SshSession(target);
    const before = connections;
    try {
      for (let i = 0; i < 10; i++)
        expect((await session.exec(['echo', String(i)])).stdout).toBe(`echo ${i}`);
      const parallel = await Promise.all([1, 2, 3].map((i) => session.exec(`exit:${i}`)));
      expect(parallel.map((r) => r.exitCode)).toEqual([1, 2, 3]);
      expect(session.connectionsOpened).toBe(1);
      expect(connections - before).toBe(1);
    } finally {
      session.close();
    }
  });

  it('reconnects once the connection dropped, and reports the drop as a coded error', async () => {
    const session = new SshSession(target);
    try {
      await session.exec('true');
      await expect(session.exec('drop')).rejects.toMatchObject({
        code: 'TESTBED_COMMAND_FAILED',
        message: expect.stringContaining('connection closed'),
      });
      expect((await session.exec('exit:5')).exitCode).toBe(5);
      expect(session.connectionsOpened).toBe(2);
    } finally {
      session.close();
    }
  });

  it('opens a channel the server closed before the command started anew, its input intact', async () => {
    const session = new SshSession(target);
    try {
      const result = await session.exec('vanish:2', { input: 'kept' });
      expect(result).toEqual({ stdout: 'vanish:2', stderr: 'kept', exitCode: 0 });
      expect(vanished.get('vanish:2')).toBe(2);
      await expect(session.exec('vanish:9')).rejects.toMatchObject({
        code: 'TESTBED_COMMAND_FAILED',
        message: expect.stringContaining('connection closed before the command started'),
      });
      expect(vanished.get('vanish:9')).toBe(3);
    } finally {
      session.close();
    }
  });

  it('never runs a command again that started: a channel lost after that is an error', async () => {
    const session = new SshSession(target);
    try {
      await expect(session.exec('half')).rejects.toMatchObject({
        code: 'TESTBED_COMMAND_FAILED',
        message: expect.stringContaining('connection closed while the command ran'),
      });
      expect((await session.exec('exit:4')).exitCode).toBe(4);
    } finally {
      session.close();
    }
  });

  it('streams stdin from a Readable and returns bytes with encoding buffer', async () => {
    const session = new SshSession(target);
    try {
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const result = await session.exec('cat', {
        input: Readable.from([bytes, bytes]),
        encoding: 'buffer',
      });
      expect(Buffer.compare(result.stderr as Buffer, Buffer.concat([bytes, bytes]))).toBe(0);
    } finally {
      session.close();
    }
  });

  it('applies env, cwd and user through the remote command', async () => {
    const session = new SshSession(target);
    try {
      const { stdout } = await session.exec(['id'], { env: { A: '1' }, cwd: '/srv', user: 'app' });
      expect(stdout).toMatch(/^su -s \/bin\/sh app -c 'export A=1\ncd -- \/srv \|\| exit\nid'$/);
    } finally {
      session.close();
    }
  });

  it('rejects an empty argument array and an invalid variable name as InvalidSpecError', async () => {
    const session = new SshSession(target);
    await expect(session.exec([])).rejects.toMatchObject({ code: 'TESTBED_INVALID_SPEC' });
    await expect(session.exec('true', { env: { 'A-B': '1' } })).rejects.toMatchObject({
      code: 'TESTBED_INVALID_SPEC',
      message: expect.stringContaining('env.A-B'),
    });
    expect(session.connectionsOpened).toBe(0);
  });

  it('states the limit asked in a timeout, and the reason in an abort', async () => {
    const session = new SshSession(target, { name: 'vm-1' });
    try {
      await expect(session.exec('sleep', { timeoutMs: 400 })).rejects.toMatchObject({
        code: 'TESTBED_TIMEOUT',
        message: 'exec `sleep` on vm-1 did not finish within 400 ms.',
      });
      const reason = new Error('test over');
      const error = await session
        .exec('sleep', { signal: AbortSignal.abort(reason) })
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'TESTBED_ABORTED', cause: reason });
    } finally {
      session.close();
    }
  });

  it('spawns a process whose kill() kills its group and whose exited then resolves', async () => {
    const session = new SshSession(target);
    try {
      kills.length = 0;
      const process = session.spawn('sleep');
      await new Promise((resolve) => setTimeout(resolve, 200));
      await process.kill();
      await process.kill();
      expect(kills).toEqual([`kill -9 -- -${PGID} 2>/dev/null`]);
      await expect(process.exited).resolves.toBeTypeOf('number');
    } finally {
      session.close();
    }
  });

  it('rejects with MachineGoneError once closed, also for a command in flight', async () => {
    const session = new SshSession(target, { name: 'vm-2' });
    const running = session.exec('sleep');
    await new Promise((resolve) => setTimeout(resolve, 200));
    session.close();
    await expect(running).rejects.toMatchObject({ code: 'TESTBED_MACHINE_GONE' });
    await expect(session.exec('true')).rejects.toMatchObject({
      code: 'TESTBED_MACHINE_GONE',
      message: expect.stringContaining('vm-2'),
    });
    expect(() => session.spawn('true')).toThrow(/gone/);
  });
});
