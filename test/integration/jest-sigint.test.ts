import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { hasJest, jestBin, jestEnv, repo } from '../fixtures/run-jest.js';
import { expectRunRemoved, interruptRun } from './support/interrupt-run.js';
import { runLeftovers } from './support/run-leftovers.js';

const config = resolve(repo, 'test/fixtures/jest-sigint/jest.config.mjs');

/** Runs the fixture project under Jest, waits for `ready` to see something of the run, then sends SIGINT. */
const interrupt = (ready: (runId: string) => Promise<boolean>) =>
  interruptRun({ file: jestBin, args: ['--config', config], env: jestEnv({}), cwd: repo, ready });

beforeAll(() => {
  if (!hasJest()) throw new Error(`Jest is a devDependency but ${jestBin} is missing: run npm ci.`);
  if (!existsSync(resolve(repo, 'dist/jest/environment.mjs'))) {
    throw new Error('The Jest fixtures load testbed from dist/: run `npm run build` first.');
  }
});

describe('a Jest run interrupted with Ctrl-C', () => {
  it('leaves no VM behind when interrupted while global setup provisions the run VM', async () => {
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
