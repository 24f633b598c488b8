import { resolve } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { childEnv } from '../fixtures/run-vitest.js';
import { expectRunRemoved, interruptRun } from './support/interrupt-run.js';
import { runLeftovers } from './support/run-leftovers.js';

const repo = resolve(import.meta.dirname, '../..');
const fixture = resolve(repo, 'test/fixtures/vitest-sigint');

/** Runs the fixture project, waits for `ready` to see something of the run, then sends SIGINT. */
const interrupt = (ready: (runId: string) => Promise<boolean>) =>
  interruptRun({
    file: resolve(repo, 'node_modules/.bin/vitest'),
    args: ['run', '--root', fixture],
    env: childEnv({}),
    ready,
  });

describe('a run interrupted with Ctrl-C', () => {
  it('leaves no VM behind when killed while the run-scoped VM is provisioning', async () => {
    const { runId, result } = await interrupt(async (id) => (await runLeftovers(id)).length > 0);
    expect(result.exitCode === 130 || result.signal === 'SIGINT').toBe(true);
    await expectRunRemoved(runId);
    expect(await runLeftovers(runId)).toEqual([]);
  });

  it('leaves no VM or container behind when killed while a test holds them', async () => {
    const { runId } = await interrupt(async (id) => {
      const { stdout } = await execa('docker', ['ps', '-q', '--filter', `label=testbed.run=${id}`]);
      return stdout.trim().length > 0;
    });
    await expectRunRemoved(runId);
    expect(await runLeftovers(runId)).toEqual([]);
  });
});
