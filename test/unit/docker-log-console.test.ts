import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { isTestbedError } from '../../src/core/errors.js';
import { LogConsole } from '../../src/providers/docker/log-console.js';

function consoleOver() {
  const source = new PassThrough();
  return { source, console: new LogConsole(async () => source, 'box') };
}

describe('LogConsole', () => {
  it('reads what was written and waits for a pattern that arrives later', async () => {
    const { source, console } = consoleOver();
    source.write('booting\n');
    const waiting = console.waitFor(/ready (\w+)/, { timeoutMs: 2000 });
    source.write('testbed-ready box\n');
    const match = await waiting;
    expect(match[0]).toBe('ready box');
    expect(match[1]).toBe('box');
    expect(await console.read()).toBe('booting\ntestbed-ready box\n');
  });

  it('follows a new stream after the old one ended (a restarted container), keeping the old text', async () => {
    const { source, console } = consoleOver();
    source.end('first boot\n');
    await new Promise((resolve) => setImmediate(resolve));
    const next = new PassThrough();
    await console.follow(async () => next);
    // The old stream's late end must not end the followed log.
    source.destroy();
    next.write('second boot\n');
    await expect(console.waitFor('second boot', { timeoutMs: 1000 })).resolves.toBeTruthy();
    expect(await console.read()).toBe('first boot\nsecond boot\n');
  });

  it('matches a string literally', async () => {
    const { source, console } = consoleOver();
    source.write('a+b (x)\n');
    await expect(console.waitFor('a+b (x)', { timeoutMs: 500 })).resolves.toBeTruthy();
  });

  it('rejects on timeout with the last lines', async () => {
    const { source, console } = consoleOver();
    source.write('line 1\nline 2\n');
    const error = await console.waitFor(/never/, { timeoutMs: 50 }).catch((e: unknown) => e);
    expect(isTestbedError(error, 'TESTBED_TIMEOUT')).toBe(true);
    expect((error as Error).message).toMatch(
      /waitFor\(\/never\/\) on the log of box did not finish within 50 ms.*Last lines:\n {4}line 1\n {4}line 2/s,
    );
  });

  it('stops waiting when the signal aborts', async () => {
    const { console } = consoleOver();
    const controller = new AbortController();
    const waiting = console.waitFor(/never/, { signal: controller.signal });
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
  });

  it('streams from the beginning until the log ends', async () => {
    const { source, console } = consoleOver();
    source.write('one\n');
    const seen: string[] = [];
    const done = (async () => {
      for await (const chunk of console.stream()) seen.push(chunk);
    })();
    await new Promise((r) => setTimeout(r, 10));
    source.write('two\n');
    await new Promise((r) => setTimeout(r, 10));
    source.end();
    await done;
    expect(seen.join('')).toBe('one\ntwo\n');
  });

  it('tails the last lines and still answers after close', async () => {
    const { source, console } = consoleOver();
    source.write('1\n2\n3\n4\n');
    await new Promise((r) => setTimeout(r, 10));
    console.close();
    expect(await console.tail(2)).toBe('3\n4');
  });
});
