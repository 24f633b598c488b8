import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireImageLock } from '../../src/images/image-lock.js';

describe('acquireImageLock', () => {
  let dir: string;
  let lockPath: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'testbed-lock-'));
    lockPath = join(dir, '.lock');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes this process as the owner and removes the file on release', async () => {
    const lock = await acquireImageLock(lockPath);
    expect(JSON.parse(await readFile(lockPath, 'utf8'))).toMatchObject({ pid: process.pid });
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it('makes a second taker wait until the first releases', async () => {
    const first = await acquireImageLock(lockPath);
    const waits: number[] = [];
    let secondHeld = false;
    const second = acquireImageLock(lockPath, {
      pollMs: 20,
      onWait: (holder) => waits.push(holder.pid),
    }).then((lock) => {
      secondHeld = true;
      return lock;
    });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(secondHeld).toBe(false);
    expect(waits).toEqual([process.pid]);
    await first.release();
    await (await second).release();
    expect(secondHeld).toBe(true);
  });

  it('breaks a lock whose owner is dead', async () => {
    await writeFile(lockPath, JSON.stringify({ pid: 999_999, startTime: 1 }));
    const lock = await acquireImageLock(lockPath, { isAlive: () => false, timeoutMs: 1_000 });
    expect(JSON.parse(await readFile(lockPath, 'utf8'))).toMatchObject({ pid: process.pid });
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it('breaks a lock left unreadable by a crash mid-write', async () => {
    await writeFile(lockPath, '{"pid":');
    const lock = await acquireImageLock(lockPath, { timeoutMs: 1_000 });
    await lock.release();
  });

  it('times out naming the holder while a live process keeps the lock', async () => {
    await writeFile(lockPath, JSON.stringify({ pid: process.pid, startTime: 0 }));
    await expect(acquireImageLock(lockPath, { timeoutMs: 100, pollMs: 20 })).rejects.toMatchObject({
      code: 'TESTBED_TIMEOUT',
      message: expect.stringContaining(`"pid":${process.pid}`),
    });
  });

  it('stops waiting when the signal aborts', async () => {
    await writeFile(lockPath, JSON.stringify({ pid: process.pid, startTime: 0 }));
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('cancelled')), 50);
    await expect(
      acquireImageLock(lockPath, { signal: controller.signal, pollMs: 20 }),
    ).rejects.toThrow('cancelled');
  });

  it('does not remove a lock another process took after ours was broken', async () => {
    const lock = await acquireImageLock(lockPath);
    await writeFile(lockPath, JSON.stringify({ pid: 1, startTime: 0, id: 'other' }));
    await lock.release();
    expect(JSON.parse(await readFile(lockPath, 'utf8'))).toMatchObject({ id: 'other' });
  });
});
