import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isTestbedError } from '../../src/core/errors.js';
import { currentHost } from '../../src/core/run-context.js';
import { BootSlots, bootCapacity } from '../../src/providers/libvirt/boot-slots.js';

describe('bootCapacity', () => {
  const host = { cores: 2, freeMiB: 20_000, memoryMiB: 256, vcpus: 1 };
  it('admits one TCG boot per core and two per core under KVM', () => {
    expect(bootCapacity({ ...host, accelerator: 'tcg' })).toBe(2);
    expect(bootCapacity({ ...host, accelerator: 'kvm' })).toBe(4);
    expect(bootCapacity({ ...host, vcpus: 2, accelerator: 'tcg' })).toBe(1);
  });
  it('never admits more than free memory holds, nor fewer than one', () => {
    expect(bootCapacity({ ...host, freeMiB: 700, accelerator: 'kvm' })).toBe(2);
    expect(bootCapacity({ ...host, freeMiB: 100, accelerator: 'kvm' })).toBe(1);
    expect(bootCapacity({ ...host, cores: 1, vcpus: 4, accelerator: 'tcg' })).toBe(1);
  });
});

describe('BootSlots', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'boot-slots-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('admits up to capacity at once and the rest in arrival order', async () => {
    const slots = new BootSlots(dir);
    const first = await slots.acquire('a', 1, { queueTimeoutMs: 5000 });
    const order: string[] = [];
    const second = slots.acquire('b', 1, { queueTimeoutMs: 5000 }).then((s) => {
      order.push('b');
      return s;
    });
    await new Promise((r) => setTimeout(r, 20));
    const third = slots.acquire('c', 1, { queueTimeoutMs: 5000 }).then((s) => {
      order.push('c');
      return s;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(order).toEqual([]);
    await first.release();
    const b = await second;
    expect(b.waitedMs).toBeGreaterThanOrEqual(250);
    expect(order).toEqual(['b']);
    await b.release();
    await (await third).release();
    expect(order).toEqual(['b', 'c']);
    expect(await readdir(dir)).toEqual([]);
  });

  it('drops the ticket of a process that died while holding a slot', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    await once(child, 'spawn');
    const { processStartTime } = await import('../../src/core/run-context.js');
    const owner = {
      pid: child.pid ?? 0,
      startTime: processStartTime(child.pid ?? 0),
      host: currentHost(),
    };
    await writeFile(
      join(dir, '000000000000000001-dead.ticket'),
      JSON.stringify({ owner, label: 'killed' }),
    );
    child.kill('SIGKILL');
    await once(child, 'exit');
    const slot = await new BootSlots(dir).acquire('next', 1, { queueTimeoutMs: 5000 });
    expect(await readdir(dir)).toHaveLength(1);
    await slot.release();
  });

  it('gives up after its queue bound, naming what was ahead, and on abort with AbortedError', async () => {
    const slots = new BootSlots(dir);
    const held = await slots.acquire('holder', 1, { queueTimeoutMs: 5000 });
    const timedOut = await slots
      .acquire('late', 1, { queueTimeoutMs: 300 })
      .catch((e: unknown) => e);
    expect(isTestbedError(timedOut, 'TESTBED_TIMEOUT')).toBe(true);
    expect((timedOut as Error).message).toContain('1 boots were ahead (holder)');
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('test ended')), 100);
    const aborted = await slots
      .acquire('aborted', 1, { signal: controller.signal, queueTimeoutMs: 5000 })
      .catch((e: unknown) => e);
    expect(isTestbedError(aborted, 'TESTBED_ABORTED')).toBe(true);
    expect(((aborted as Error).cause as Error).message).toBe('test ended');
    await held.release();
    expect(await readdir(dir)).toEqual([]);
  });
});
