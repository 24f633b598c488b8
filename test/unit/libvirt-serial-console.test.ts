import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isTestbedError } from '../../src/core/errors.js';
import { SerialConsole } from '../../src/providers/libvirt/serial-console.js';

let dir: string;
let log: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'testbed-console-'));
  log = join(dir, 'serial.log');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('SerialConsole', () => {
  it('reads nothing before the file exists, then what was written', async () => {
    const console = new SerialConsole(log, { machineName: 'm', pollMs: 10 });
    expect(await console.read()).toBe('');
    await writeFile(log, 'a\r\nb\r\nc\r\n');
    expect(await console.read()).toBe('a\r\nb\r\nc\r\n');
    expect(await console.tail(2)).toBe('b\nc');
  });

  it('waitFor resolves with the match once the line appears', async () => {
    const console = new SerialConsole(log, { machineName: 'm', pollMs: 10 });
    setTimeout(() => void writeFile(log, 'boot...\ntestbed-ready vm1\n'), 50);
    const match = await console.waitFor(/testbed-ready (\S+)/, { timeoutMs: 2_000 });
    expect(match[1]).toBe('vm1');
  });

  it('treats a string pattern literally', async () => {
    await writeFile(log, 'price: 1+1 (x)\n');
    const console = new SerialConsole(log, { machineName: 'm', pollMs: 10 });
    await expect(console.waitFor('1+1 (x)', { timeoutMs: 200 })).resolves.toBeTruthy();
  });

  it('times out with a TimeoutError that carries the last lines of the log', async () => {
    const lines = Array.from({ length: 30 }, (_, i) => `line ${i}`).join('\n');
    await writeFile(log, `${lines}\n`);
    const console = new SerialConsole(log, { machineName: 'vm-x', pollMs: 10 });
    const error = await console.waitFor('never', { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(isTestbedError(error, 'TESTBED_TIMEOUT')).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain('vm-x');
    expect(message).toContain('line 29');
    expect(message).toContain('line 10');
    expect(message).not.toContain('line 9\n');
  });

  it('says the console is empty when the guest printed nothing', async () => {
    const console = new SerialConsole(log, { machineName: 'm', pollMs: 10 });
    const error = await console.waitFor('x', { timeoutMs: 50 }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/printed nothing/);
  });

  it('stops waiting when the signal aborts, with the signal reason', async () => {
    const console = new SerialConsole(log, { machineName: 'm', pollMs: 10 });
    const reason = new Error('stop');
    const waiting = console.waitFor('x', { timeoutMs: 10_000, signal: AbortSignal.timeout(1) });
    await expect(waiting).rejects.toBeTruthy();
    const controller = new AbortController();
    const second = console.waitFor('x', { timeoutMs: 10_000, signal: controller.signal });
    controller.abort(reason);
    await expect(second).rejects.toBe(reason);
  });

  it('streams output as it arrives and ends when the machine is gone', async () => {
    let gone = false;
    const console = new SerialConsole(log, { machineName: 'm', pollMs: 10, isGone: () => gone });
    await writeFile(log, 'one\n');
    setTimeout(async () => {
      await appendFile(log, 'two\n');
      setTimeout(() => {
        gone = true;
      }, 50);
    }, 30);
    let seen = '';
    for await (const chunk of console.stream()) seen += chunk;
    expect(seen).toBe('one\ntwo\n');
  });
});
