import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { types } from 'node:util';
import { z } from 'zod';
import { UnsupportedOperationError } from '../core/errors.js';
import {
  checkArguments,
  commandWaitOptionsSchema,
  consolePatternSchema,
  httpWaitOptionsSchema,
  waitCommandSchema,
  waitPathSchema,
  waitPortSchema,
} from '../core/option-schemas.js';
import type { Machine, WaitCheck, WaitStrategy } from '../core/provider.js';
import { waitStrategySchema } from '../core/spec-schemas.js';
import { LIST_TCP_SOCKETS, listensOn } from './listens-on.js';
import { tcpConnect } from './tcp-connect.js';

/** Options for `Wait.forHttp`. */
export interface HttpWaitOptions {
  /** Expected status, or a predicate on it. Default 200. */
  status?: number | ((status: number) => boolean);
  /** Expected body: a substring, a pattern, or a predicate. Default: any. */
  body?: string | RegExp | ((body: string) => boolean);
  /** `http` (default) or `https`; HTTPS certificates are not verified (test machines are self-signed). */
  protocol?: 'http' | 'https';
  /** Request method. Default GET. */
  method?: string;
  /** Request headers. */
  headers?: Record<string, string>;
}

/** Options for `Wait.forCommand`. */
export interface CommandWaitOptions {
  /** Exit code that counts as success. Default 0. */
  exitCode?: number;
}

/** A strategy made of others, all of which must hold; `waitUntil` waits for them in order. */
export interface AllWaitStrategy extends WaitStrategy {
  /** The strategies, in the order they are waited for. */
  readonly strategies: readonly WaitStrategy[];
}

const BODY_SHOWN = 200;

function need<K extends keyof Machine>(
  machine: Machine,
  member: K,
  capability: string,
  what: string,
) {
  const value = machine[member];
  if (value === undefined) {
    throw new UnsupportedOperationError(what, machine.providerId, {
      fix: `Wait for something else, or ask for a machine with ${capability}.`,
    });
  }
  return value as NonNullable<Machine[K]>;
}

function httpGet(
  url: string,
  options: HttpWaitOptions,
  signal: AbortSignal,
): Promise<{ status: number; body: string }> {
  const request = options.protocol === 'https' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        headers: options.headers,
        signal,
        rejectUnauthorized: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.once('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.once('error', reject);
      },
    );
    req.once('error', reject);
    req.end();
  });
}

function matches<T>(expected: T | RegExp | ((value: T) => boolean) | undefined, value: T): boolean {
  if (expected === undefined) return true;
  if (typeof expected === 'function') return (expected as (value: T) => boolean)(value);
  if (types.isRegExp(expected)) return expected.test(String(value));
  return typeof value === 'string' ? value.includes(String(expected)) : value === expected;
}

function describeExpectation(expected: unknown): string {
  if (typeof expected === 'function') return 'a matching';
  return String(expected);
}

/** Ready-made wait strategies, modelled on testcontainers' `Wait` and NixOS's `wait_for_*`. */
export const Wait = {
  /**
   * The guest listens on TCP `port` (read from `/proc/net/tcp*` inside it) and, when the port is
   * forwarded, 127.0.0.1 accepts connections on its host port.
   */
  forPort(port: number): WaitStrategy {
    checkArguments('Wait.forPort()', [{ name: 'port', schema: waitPortSchema, value: port }]);
    return {
      description: `TCP port ${port} listening`,
      async check(machine, signal): Promise<WaitCheck> {
        const exec = need(machine, 'exec', 'Exec', `waiting for port ${port} (needs exec)`);
        const sockets = await exec.call(machine, [...LIST_TCP_SOCKETS], { signal });
        if (!listensOn(sockets.stdout, port)) {
          return { ok: false, detail: `nothing listens on port ${port} inside the machine` };
        }
        const forwarded = machine.endpoint && forwardedEndpoint(machine, port);
        if (!forwarded) return { ok: true, detail: `port ${port} listens` };
        return tcpConnect(forwarded.host, forwarded.port, signal);
      },
    };
  },

  /** An HTTP(S) request to the forwarded `port` answers with the expected status (and body). */
  forHttp(port: number, path = '/', options: HttpWaitOptions = {}): WaitStrategy {
    checkArguments('Wait.forHttp()', [
      { name: 'port', schema: waitPortSchema, value: port },
      { name: 'path', schema: waitPathSchema, value: path },
      { name: 'options', schema: httpWaitOptionsSchema, value: options },
    ]);
    const status = options.status ?? 200;
    const wanted = `${typeof status === 'number' ? status : 'a matching status'}${
      options.body === undefined ? '' : ` with ${describeExpectation(options.body)} body`
    }`;
    return {
      description: `${options.protocol === 'https' ? 'HTTPS' : 'HTTP'} ${wanted} from :${port}${path}`,
      async check(machine, signal): Promise<WaitCheck> {
        const url = need(machine, 'url', 'PortForward', `waiting for HTTP on port ${port}`);
        const target = url.call(machine, port, path, { protocol: options.protocol ?? 'http' });
        let answer: { status: number; body: string };
        try {
          answer = await httpGet(target, options, signal);
        } catch (error) {
          // Cut short by the attempt's bound: the runner reports that, not an abort code.
          if (signal.aborted) throw error;
          const code = (error as NodeJS.ErrnoException).code;
          return { ok: false, detail: `${target}: ${code ?? (error as Error).message}` };
        }
        const shown =
          answer.body.length > BODY_SHOWN ? `${answer.body.slice(0, BODY_SHOWN)}…` : answer.body;
        const ok = matches(status, answer.status) && matches(options.body, answer.body);
        return { ok, detail: `${target} answered ${answer.status}: ${JSON.stringify(shown)}` };
      },
    };
  },

  /** A command exits with 0 (or `exitCode`), as NixOS's `wait_until_succeeds`. */
  forCommand(command: string | readonly string[], options: CommandWaitOptions = {}): WaitStrategy {
    checkArguments('Wait.forCommand()', [
      { name: 'command', schema: waitCommandSchema, value: command },
      { name: 'options', schema: commandWaitOptionsSchema, value: options },
    ]);
    const shown = typeof command === 'string' ? command : command.join(' ');
    const wanted = options.exitCode ?? 0;
    return {
      description: `\`${shown}\` to exit with ${wanted}`,
      async check(machine, signal): Promise<WaitCheck> {
        const exec = need(machine, 'exec', 'Exec', `waiting for \`${shown}\``);
        const result = await exec.call(machine, command, { signal });
        const output = (result.stderr.trim() || result.stdout.trim())
          .split('\n')
          .slice(-3)
          .join(' | ');
        return {
          ok: result.exitCode === wanted,
          detail: `exit ${result.exitCode}${output ? `: ${output}` : ''}`,
        };
      },
    };
  },

  /** A line matching `pattern` appears on the machine's console (serial port or container log). */
  forConsole(pattern: string | RegExp): WaitStrategy {
    checkArguments('Wait.forConsole()', [
      { name: 'pattern', schema: consolePatternSchema, value: pattern },
    ]);
    const regex = typeof pattern === 'string' ? new RegExp(pattern) : pattern;
    return {
      description: `console line ${regex}`,
      async check(machine): Promise<WaitCheck> {
        const console = need(
          machine,
          'console',
          'SerialConsole',
          `waiting for console line ${regex}`,
        );
        const text = await console.read();
        const ok = regex.test(text);
        return { ok, detail: ok ? `seen ${regex}` : `${regex} not seen yet` };
      },
    };
  },

  /** All of `strategies`, waited for in order within one deadline. */
  all(...strategies: WaitStrategy[]): AllWaitStrategy {
    checkArguments('Wait.all()', [
      { name: 'strategies', schema: z.array(waitStrategySchema), value: strategies },
    ]);
    return {
      strategies,
      description: strategies.map((s) => s.description).join(', then '),
      async check(machine, signal): Promise<WaitCheck> {
        for (const strategy of strategies) {
          const result = await strategy.check(machine, signal);
          if (!result.ok) return { ok: false, detail: `${strategy.description}: ${result.detail}` };
        }
        return { ok: true, detail: 'all hold' };
      },
    };
  },
};

/** The endpoint of `port` when it is forwarded; undefined when it is not. */
function forwardedEndpoint(machine: Machine, port: number) {
  try {
    return machine.endpoint?.(port);
  } catch {
    return undefined;
  }
}
