import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { hasJest, jestBin, jestEnv, repo } from '../fixtures/run-jest.js';
import { childEnv } from '../fixtures/run-vitest.js';
import { expectRunRemoved, interruptRun } from './support/interrupt-run.js';
import { runLeftovers } from './support/run-leftovers.js';

/** Each runner on a fixture project with a run-scoped VM, then a container held by a test. */
const runners = [
  {
    name: 'vitest',
    file: resolve(repo, 'node_modules/.bin/vitest'),
    args: ['run', '--root', resolve(repo, 'test/fixtures/vitest-sigint')],
    env: childEnv({}),
  },
  {
    name: 'jest',
    file: jestBin,
    args: ['--config', resolve(repo, 'test/fixtures/jest-sigint/jest.config.mjs')],
    env: jestEnv({}),
  },
];

beforeAll(() => {
  if (!hasJest()) throw new Error(`Jest is a devDependency but ${jestBin} is missing: run npm ci.`);
  if (!existsSync(resolve(repo, 'dist/jest/environment.mjs'))) {
    throw new Error('The fixtures load testbed from dist/: run `npm run build` first.');
  }
});

describe.each(runners)('a $name run interrupted with Ctrl-C', (runner) => {
  const interrupt = (ready: (runId: string) => Promise<boolean>) =>
    interruptRun({ ...runner, cwd: repo, ready });

  it('leaves no VM behind when interrupted while the run-scoped VM is provisioning', async () => {
    const { runId, result } = await interrupt(async (id) => (await runLeftovers(id)).length > 0);
    expect(result.exitCode === 130 || result.signal === 'SIGINT', result.all).toBe(true);
    await expectRunRemoved(runId);
    expect(await runLeftovers(runId)).toEqual([]);
  });

  it('leaves no VM or container behind when interrupted while a test holds them', async () => {
    const { runId } = await interrupt(async (id) => {
      const { stdout } = await execa('docker', ['ps', '-q', '--filter', `label=testbed.run=${id}`]);
      return stdout.trim().length > 0;
    });
    await expectRunRemoved(runId);
    expect(await runLeftovers(runId)).toEqual([]);
  });
});
