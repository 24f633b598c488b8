import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { boundedFault } from '../../src/core/bounded-fault.js';
import { withCheckedRestore } from '../../src/core/option-schemas.js';
import {
  InvalidOptionsError,
  isTestbedError,
  type Machine,
  type MachineSnapshot,
  Wait,
  waitUntil,
} from '../../src/index.js';
import { DockerMachine } from '../../src/providers/docker/docker-machine.js';
import { LogConsole } from '../../src/providers/docker/log-console.js';
import {
  LibvirtMachine,
  type LibvirtMachineState,
} from '../../src/providers/libvirt/libvirt-machine.js';
import { SshSession } from '../../src/ssh/ssh-session.js';

const dir = mkdtempSync(join(tmpdir(), 'testbed-options-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Anything that would run in a machine: every SSH command, every engine call. */
const touched: string[] = [];
afterEach(() => {
  // Nothing ran in any machine for options that fail validation.
  expect(touched).toEqual([]);
  touched.length = 0;
  vi.restoreAllMocks();
});

function vm(): LibvirtMachine {
  vi.spyOn(SshSession.prototype, 'start').mockImplementation(() => {
    touched.push('ssh');
    throw new Error('a command ran');
  });
  const state = {
    name: 'testbed-run-vm',
    dir,
    disk: join(dir, 'disk.qcow2'),
    serialLog: join(dir, 'serial.log'),
    ports: {},
    readiness: { readyPattern: null, cloudInit: false },
    ssh: { host: '127.0.0.1', port: 1, username: 'root', privateKeyPath: '', privateKey: '' },
  } as unknown as LibvirtMachineState;
  const lifecycle = {
    clone: () => touched.push('clone'),
    snapshot: () => touched.push('snapshot'),
    power: new Proxy({}, { get: () => () => touched.push('power') }),
  } as unknown as ConstructorParameters<typeof LibvirtMachine>[1];
  return new LibvirtMachine(state, lifecycle);
}

function container(): DockerMachine {
  const engine = new Proxy(
    {},
    {
      get: () => {
        touched.push('engine');
        throw new Error('the engine was called');
      },
    },
  );
  const context = {
    providerId: 'docker',
    forwards: [],
    client: { container: { dockerode: engine } },
    cloneFrom: () => touched.push('clone'),
    faults: new Proxy({}, { get: () => () => touched.push('faults') }),
    readyLog: () => undefined,
  } as unknown as ConstructorParameters<typeof DockerMachine>[4];
  const console = new LogConsole(async () => {
    throw new Error('no log');
  }, 'testbed-run-ct');
  return new DockerMachine(
    'testbed-run-ct',
    { containerId: 'c0ffee', image: 'testbed/tiny', ports: {} },
    console,
    true,
    context,
  );
}

const machines: [string, () => Machine][] = [
  ['VM', vm],
  ['container', container],
];

async function rejection(work: () => unknown): Promise<InvalidOptionsError> {
  let error: unknown;
  try {
    await work();
  } catch (e) {
    error = e;
  }
  expect(isTestbedError(error, 'TESTBED_INVALID_OPTIONS'), String(error)).toBe(true);
  expect(error).toBeInstanceOf(InvalidOptionsError);
  return error as InvalidOptionsError;
}

describe.each(machines)('exec options (%s)', (_, make) => {
  it('names a misspelt option with the one meant, and runs nothing', async () => {
    const m = make();
    const error = await rejection(() => m.exec?.(['sleep', '100'], { tiemoutMs: 5 } as never));
    expect(error.method).toBe('exec()');
    expect(error.message).toContain(
      "tiemoutMs: is not an option of exec() (did you mean 'timeoutMs'?)",
    );
    expect(error.fix).toContain('signal, env, cwd, user, timeoutMs, input, encoding');
  });

  it('reports wrong types and ranges with the value, all at once', async () => {
    const m = make();
    const error = await rejection(() =>
      m.exec?.('true', {
        timeoutMs: 'abc',
        encoding: 'hex',
        env: { 'BAD-NAME': 'x', N: 3 },
        cwd: 'relative/dir',
        user: '-x',
        input: 42,
        signal: 'soon',
      } as never),
    );
    const paths = error.problems.map((p) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'timeoutMs',
        'encoding',
        'env.BAD-NAME',
        'env.N',
        'cwd',
        'user',
        'input',
        'signal',
      ]),
    );
    expect(error.message).toMatch(/\(8 problems\)/);
    expect(error.message).toContain('timeoutMs: must be a number of milliseconds');
    expect(error.message).toContain('(got "abc")');
    expect(error.message).toContain(
      "encoding: must be 'utf8' (text, the default) or 'buffer' (bytes) (got \"hex\")",
    );
    expect(error.message).toContain('cwd: must be an absolute directory path');
    expect(error.message).toContain(
      'user: must be a user name such as "nobody", or a numeric uid (got "-x")',
    );
  });

  it.each([
    [-5, 'must be at least 1 ms'],
    [0, 'must be at least 1 ms'],
    [1.5, 'must be a whole number of milliseconds'],
    [Number.NaN, 'must be a number of milliseconds'],
    [2 ** 31, 'must be at most 2147483647 ms'],
  ])('refuses timeoutMs %s (%s)', async (timeoutMs, message) => {
    const error = await rejection(() => make().exec?.('true', { timeoutMs }));
    expect(error.message).toContain(`timeoutMs: ${message}`);
  });

  it('refuses options that are not an object', async () => {
    const error = await rejection(() => make().exec?.('true', 5000 as never));
    expect(error.message).toContain('(options): must be an object of options');
    expect(error.message).toContain('(got 5000)');
    expect(error.fix).toContain('exec() takes signal, env, cwd');
  });
});

describe.each(machines)('spawn options (%s)', (_, make) => {
  it('throws at the call, saying what to use instead of exec-only options', async () => {
    const m = make();
    const error = await rejection(() =>
      m.spawn?.(['cat'], { timeoutMs: 5, input: 'x', usr: 'root' } as never),
    );
    expect(error.message).toContain(
      'timeoutMs: is not an option of spawn(); spawn() has no time bound',
    );
    expect(error.message).toContain(
      'input: is not an option of spawn(); spawn() takes no input option',
    );
    expect(error.message).toContain("usr: is not an option of spawn() (did you mean 'user'?)");
  });

  it('refuses a wrong cwd, user or env', async () => {
    const error = await rejection(() =>
      make().spawn?.('true', { cwd: 7, user: '', env: 'A=1' } as never),
    );
    expect(error.problems.map((p) => p.path)).toEqual(['env', 'cwd', 'user']);
  });
});

describe.each(machines)('file transfer options (%s)', (_, make) => {
  it('writeFile refuses a mode that is not a file mode, with the value', async () => {
    const m = make();
    const error = await rejection(() => m.writeFile?.('/tmp/x', 'data', { mode: 'abc' } as never));
    expect(error.message).toContain('mode: must be a file mode such as 0o644 (got "abc")');
    const big = await rejection(() => m.writeFile?.('/tmp/x', 'data', { mode: 0o10000 }));
    expect(big.message).toContain('at most 0o7777');
  });

  it('copyTo, copyFrom and readFile refuse typos and bad bounds', async () => {
    const m = make();
    const copy = await rejection(() => m.copyTo?.(dir, '/tmp/x', { timeout: 5 } as never));
    expect(copy.message).toContain(
      "timeout: is not an option of copyTo() (did you mean 'timeoutMs'?)",
    );
    const back = await rejection(() => m.copyFrom?.('/tmp/x', dir, { timeoutMs: -1 }));
    expect(back.message).toContain('Invalid options for copyFrom()');
    const read = await rejection(() => m.readFile?.('/tmp/x', { mode: 0o644 } as never));
    expect(read.message).toContain('mode: is not an option of readFile()');
    expect(read.fix).toContain('readFile() takes signal, timeoutMs');
  });
});

describe.each(machines)('snapshot, clone and fault options (%s)', (_, make) => {
  it('clone refuses unknown keys and bad values', async () => {
    const error = await rejection(() => make().clone?.({ nmae: 'x', timeoutMs: 'long' } as never));
    expect(error.message).toContain("nmae: is not an option of clone() (did you mean 'name'?)");
    expect(error.message).toContain('timeoutMs: must be a number of milliseconds');
  });

  it('faults refuse a bad timeoutMs and a misspelt signal, naming the operation', async () => {
    const error = await rejection(() =>
      boundedFault(
        { operation: 'pause() on testbed-run-x', defaultTimeoutMs: 30_000, fix: '' },
        { timeoutMs: 1.5, sigal: AbortSignal.abort() } as never,
        async () => {
          touched.push('fault');
        },
      ),
    );
    expect(error.message).toContain('Invalid options for pause() on testbed-run-x (2 problems)');
    expect(error.message).toContain(
      "sigal: is not an option of pause() on testbed-run-x (did you mean 'signal'?)",
    );
  });
});

describe('snapshot and restore options', () => {
  it('snapshot refuses a memory that is not a boolean, before freezing anything', async () => {
    const error = await rejection(() => vm().snapshot({ memory: 'yes' } as never));
    expect(error.message).toContain(
      'memory: must be true (save memory too, a warm snapshot) or false (got "yes")',
    );
  });

  it('restore refuses unknown keys and networks that are not networks', async () => {
    const snapshot = withCheckedRestore<MachineSnapshot>({
      id: 's',
      restore: async () => {
        touched.push('restore');
        return {} as Machine;
      },
      destroy: async () => undefined,
    });
    const error = await rejection(() =>
      snapshot.restore({ hostnme: 'web', networks: ['net'] } as never),
    );
    expect(error.message).toContain(
      "hostnme: is not an option of restore() (did you mean 'hostname'?)",
    );
    expect(error.message).toContain('networks.0: must be a network from createNetwork()');
  });
});

describe('wait options', () => {
  it('Wait.forHttp checks its port, path and options at the call', async () => {
    const error = await rejection(() =>
      Wait.forHttp(70_000, '/ health', { status: 'ok', protocl: 'https' } as never),
    );
    expect(error.method).toBe('Wait.forHttp()');
    expect(error.problems.map((p) => p.path)).toEqual(['port', 'path', 'status', 'protocl']);
    expect(error.message).toContain('port: must be a TCP port (1-65535) (got 70000)');
    expect(error.message).toContain(
      "protocl: is not an option of Wait.forHttp() (did you mean 'protocol'?)",
    );
  });

  it('Wait.forPort, forCommand, forConsole and all refuse what they cannot use', async () => {
    expect((await rejection(() => Wait.forPort('8080' as never))).message).toContain(
      'port: must be a TCP port number (got "8080")',
    );
    const command = await rejection(() => Wait.forCommand([], { exitcode: 1 } as never));
    expect(command.message).toContain('command: ');
    expect(command.message).toContain(
      "exitcode: is not an option of Wait.forCommand() (did you mean 'exitCode'?)",
    );
    expect((await rejection(() => Wait.forCommand('true', { exitCode: 256 }))).message).toContain(
      'exitCode: must be an exit code (0-255) (got 256)',
    );
    expect((await rejection(() => Wait.forConsole(42 as never))).message).toContain(
      'pattern: must be a string or a RegExp',
    );
    expect((await rejection(() => Wait.all('ready' as never))).message).toContain(
      'must be a wait strategy such as Wait.forHttp(8080)',
    );
  });

  it.each(machines)('waitUntil and console.waitFor check their options (%s)', async (_, make) => {
    const m = make();
    const wait = await rejection(() =>
      m.waitUntil(Wait.forPort(80), { timeoutMs: -5, interval: 10 } as never),
    );
    expect(wait.message).toContain(
      "interval: is not an option of waitUntil() (did you mean 'intervalMs'?)",
    );
    expect(wait.message).toContain('timeoutMs: must be at least 1 ms');
    await rejection(() => waitUntil(m, 'port 80' as never));
    const line = await rejection(() => m.console?.waitFor(/ready/, { timeout: 5 } as never));
    expect(line.message).toContain(
      "timeout: is not an option of console.waitFor() (did you mean 'timeoutMs'?)",
    );
  });
});

describe('valid options', () => {
  it('pass through to the machine', async () => {
    const m = vm();
    const error = await m
      .exec(['true'], {
        timeoutMs: 1000,
        encoding: 'buffer',
        env: { A: '1' },
        cwd: '/tmp',
        user: 'nobody',
        input: 'x',
        signal: AbortSignal.timeout(5000),
      })
      .catch((e: unknown) => e);
    // The check passed: the command went to SSH (stubbed here).
    expect(String(error)).toContain('a command ran');
    expect(touched).toEqual(['ssh']);
    touched.length = 0;
    expect(() =>
      Wait.forHttp(8080, '/health', { status: (s) => s < 500, body: /ok/ }),
    ).not.toThrow();
    expect(() => Wait.forCommand(['pg_isready'], { exitCode: 0 })).not.toThrow();
  });
});
