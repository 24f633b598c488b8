import { resolve } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { childEnv } from '../fixtures/run-vitest.js';
import { runLeftovers } from './support/run-leftovers.js';
import { until } from './support/until.js';

const repo = resolve(import.meta.dirname, '../..');
const fixture = resolve(repo, 'test/fixtures/vitest-sigint');

/** Starts the fixture run, waits for `ready` to see something of the run, then sends SIGINT. */
async function killRun(ready: (runId: string) => Promise<boolean>) {
  const child = execa(resolve(repo, 'node_modules/.bin/vitest'), ['run', '--root', fixture], {
    env: childEnv({}),
    extendEnv: false,
    reject: false,
    all: true,
  });
  let output = '';
  child.all?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const runId = await until(
    'the run id',
    60_000,
    async () => /testbed: run ([a-z0-9]{8})/.exec(output)?.[1],
  );
  await until('the kill point', 120_000, async () => ((await ready(runId)) ? true : undefined));
  child.kill('SIGINT');
  const result = await child;
  return { runId, result, output };
}

describe('a run interrupted with Ctrl-C', () => {
  it('leaves no VM behind when killed while the run-scoped VM is provisioning', async () => {
    const { runId, result } = await killRun(async (id) => (await runLeftovers(id)).length > 0);
    expect(result.exitCode === 130 || result.signal === 'SIGINT').toBe(true);
    await until('the watchdog to remove the run', 60_000, async () =>
      (await runLeftovers(runId)).length === 0 ? true : undefined,
    ).catch(async (error: Error) => {
      throw new Error(`${error.message}; left: ${(await runLeftovers(runId)).join(', ')}`);
    });
    expect(await runLeftovers(runId)).toEqual([]);
  });

  it('leaves no VM or container behind when killed while a test holds them', async () => {
    const { runId } = await killRun(async (id) => {
      const { stdout } = await execa('docker', ['ps', '-q', '--filter', `label=testbed.run=${id}`]);
      return stdout.trim().length > 0;
    });
    await until('the watchdog to remove the run', 60_000, async () =>
      (await runLeftovers(runId)).length === 0 ? true : undefined,
    ).catch(async (error: Error) => {
      throw new Error(`${error.message}; left: ${(await runLeftovers(runId)).join(', ')}`);
    });
    expect(await runLeftovers(runId)).toEqual([]);
  });
});
