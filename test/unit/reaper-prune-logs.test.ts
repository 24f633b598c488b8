import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pruneWatchdogLogs } from '../../src/reaper/prune-watchdog-logs.js';

describe('pruneWatchdogLogs', () => {
  let stateDir: string;
  beforeEach(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'testbed-prune-'));
  });
  afterEach(async () => {
    await rm(stateDir, { recursive: true, force: true });
  });

  it('removes old logs of finished watchdogs, keeps recent ones and those of running watchdogs', async () => {
    const dir = join(stateDir, '.watchdog');
    await mkdir(dir);
    const old = new Date(Date.now() - 8 * 86_400_000);
    for (const run of ['oldrun01', 'newrun01', 'liverun1'])
      await writeFile(join(dir, `${run}.log`), 'x');
    await writeFile(join(dir, 'liverun1.pid'), '123 456');
    await utimes(join(dir, 'oldrun01.log'), old, old);
    await utimes(join(dir, 'liverun1.log'), old, old);
    const removed = await pruneWatchdogLogs(stateDir);
    expect(removed).toEqual([join(dir, 'oldrun01.log')]);
    expect((await readdir(dir)).sort()).toEqual(['liverun1.log', 'liverun1.pid', 'newrun01.log']);
  });

  it('treats a missing directory as nothing to prune', async () => {
    expect(await pruneWatchdogLogs(join(stateDir, 'nope'))).toEqual([]);
  });
});
