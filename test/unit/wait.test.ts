import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AbortedError,
  type ExecResult,
  isTestbedError,
  type Machine,
  PortNotForwardedError,
  Wait,
  WaitTimeoutError,
  waitUntil,
} from '../../src/index.js';
import { listensOn } from '../../src/wait/listens-on.js';

/** A machine whose exec answers from a script and whose console is a list of lines. */
function scriptedMachine(options: {
  exec?: (argv: string | readonly string[]) => ExecResult;
  lines?: string[];
  ports?: Record<number, number>;
}): Machine {
  const lines = options.lines ?? [];
  const machine = {
    name: 'tb-fake',
    providerId: 'fake',
    vmType: 'FullVirt',
    exec: options.exec
      ? async (command: string | readonly string[]) => options.exec?.(command)
      : undefined,
    console: {
      read: async () => lines.join('\n'),
      tail: async () => lines.slice(-3).join('\n'),
      stream: async function* () {},
      waitFor: async () => {
        throw new Error('unused');
      },
    },
    endpoint: (port: number) => {
      const host = options.ports?.[port];
      if (host === undefined) throw new PortNotForwardedError('tb-fake', port, []);
      return { host: '127.0.0.1', port: host };
    },
    url: (port: number, path = '/') => `http://127.0.0.1:${machine.endpoint(port).port}${path}`,
    waitUntil: () => Promise.resolve(),
    describe: () => ({ providerId: 'fake', name: 'tb-fake', vmType: 'FullVirt', data: {} }),
    destroy: async () => {},
    [Symbol.asyncDispose]: async () => {},
  };
  return machine as unknown as Machine;
}

const PROC_NET_TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1234 1 0000000000000000 100 0 0 10 0
   1: 0100007F:0016 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 1235 1 0000000000000000 20 4 30 10 -1`;

describe('listensOn', () => {
  it('finds LISTEN sockets by port and ignores established ones', () => {
    expect(listensOn(PROC_NET_TCP, 8080)).toBe(true);
    expect(listensOn(PROC_NET_TCP, 22)).toBe(false);
    expect(listensOn('', 8080)).toBe(false);
  });
});

describe('waitUntil', () => {
  it('polls a command until it succeeds', async () => {
    let calls = 0;
    const machine = scriptedMachine({
      exec: () => ({
        stdout: '',
        stderr: calls < 2 ? 'not yet' : '',
        exitCode: calls++ < 2 ? 1 : 0,
      }),
    });
    await waitUntil(machine, Wait.forCommand('test -e /ready'), { intervalMs: 5 });
    expect(calls).toBe(3);
  });

  it('times out with what it waited for, the last attempt and the console tail', async () => {
    const machine = scriptedMachine({
      exec: () => ({ stdout: '', stderr: 'no such file', exitCode: 1 }),
      lines: ['booting', 'app: listening failed'],
    });
    const error = await waitUntil(machine, Wait.forCommand(['test', '-e', '/ready']), {
      timeoutMs: 100,
      intervalMs: 10,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect(isTestbedError(error, 'TESTBED_WAIT_TIMEOUT')).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain('tb-fake: waiting for `test -e /ready` to exit with 0');
    expect(message).toContain('within 100 ms');
    expect(message).toContain('last attempt: exit 1: no such file');
    expect(message).toContain('app: listening failed');
    expect((error as WaitTimeoutError).lastResult).toBe('exit 1: no such file');
  });

  it('waits for strategies in order within one deadline (Wait.all and arrays)', async () => {
    const seen: string[] = [];
    const machine = scriptedMachine({
      exec: (command) => {
        seen.push(String(command));
        return { stdout: '', stderr: '', exitCode: 0 };
      },
      lines: ['ready'],
    });
    await waitUntil(machine, [
      Wait.all(Wait.forCommand('a'), Wait.forConsole(/ready/)),
      Wait.forCommand('b'),
    ]);
    expect(seen).toEqual(['a', 'b']);
  });

  it('rejects with AbortedError carrying the reason when aborted', async () => {
    const machine = scriptedMachine({ exec: () => ({ stdout: '', stderr: '', exitCode: 1 }) });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('test over')), 30);
    const error = await waitUntil(machine, Wait.forCommand('false'), {
      signal: controller.signal,
      intervalMs: 5,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortedError);
    expect(((error as Error).cause as Error).message).toBe('test over');
  });

  it('fails at once when the port was never forwarded, not after the timeout', async () => {
    const machine = scriptedMachine({});
    const started = Date.now();
    const error = await waitUntil(machine, Wait.forHttp(8080), { timeoutMs: 10_000 }).catch(
      (e: unknown) => e,
    );
    expect(isTestbedError(error, 'TESTBED_PORT_NOT_FORWARDED')).toBe(true);
    expect((error as Error).message).toContain('ports: [8080]');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('says which member a strategy needs when the machine lacks it', async () => {
    const error = await waitUntil(scriptedMachine({}), Wait.forPort(22)).catch((e: unknown) => e);
    expect(isTestbedError(error, 'TESTBED_UNSUPPORTED')).toBe(true);
    expect((error as Error).message).toContain('Exec');
  });
});

describe('Wait.forHttp against a server on 127.0.0.1', () => {
  let server: Server;
  let port: number;
  let status = 503;

  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.statusCode = status;
      res.end(status === 200 ? 'hello from testbed' : 'starting');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('waits for the status and body, and reports the last answer on timeout', async () => {
    const machine = scriptedMachine({ ports: { 8080: port } });
    const error = await waitUntil(machine, Wait.forHttp(8080, '/health'), {
      timeoutMs: 150,
      intervalMs: 10,
    }).catch((e: unknown) => e);
    expect((error as Error).message).toContain(`answered 503: "starting"`);
    status = 200;
    await waitUntil(machine, Wait.forHttp(8080, '/health', { body: /from testbed/ }), {
      timeoutMs: 2000,
    });
  });

  it('reports a refused connection as the last attempt', async () => {
    const machine = scriptedMachine({ ports: { 8080: 1 } });
    const error = await waitUntil(machine, Wait.forHttp(8080), {
      timeoutMs: 500,
      intervalMs: 10,
    }).catch((e: unknown) => e);
    expect((error as Error).message).toContain('ECONNREFUSED');
  });
});
