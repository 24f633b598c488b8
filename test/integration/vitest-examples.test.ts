import { resolve } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { childEnv, runVitest } from '../fixtures/run-vitest.js';
import { runLeftovers } from './support/run-leftovers.js';

const repo = resolve(import.meta.dirname, '../..');

describe('the examples, run as a user runs them', () => {
  it('examples/vitest: VM with console, SSH and clone; container; web service; replication over a topology; unmet GPU skipped with its reason', async () => {
    const run = await runVitest(resolve(repo, 'examples/vitest'), [], {}, 400_000);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.report).toMatchObject({ numPassedTests: 7, numFailedTests: 0, numPendingTests: 1 });
    expect(run.tests.find((t) => t.status === 'skipped')?.title).toBe('trains a model on a GPU');
    expect(run.output).toMatch(
      /trains a model on a GPU.*\[No available provider offers Custom\(gpu\):\n\s+- libvirt: lacks Custom\(gpu\)\n\s+- docker: lacks Custom\(gpu\)/,
    );
    const runId = /testbed: run ([a-z0-9]{8})/.exec(run.output)?.[1] ?? '';
    expect(runId).not.toBe('');
    expect(await runLeftovers(runId)).toEqual([]);
  });

  it('examples/discover-and-provision.ts: discovers, health-checks, selects, provisions and destroys', async () => {
    const result = await execa('npx', ['tsx', 'examples/discover-and-provision.ts', 'Exec'], {
      cwd: repo,
      env: childEnv({}),
      extendEnv: false,
      reject: false,
      all: true,
      timeout: 300_000,
    });
    expect(result.exitCode, result.all).toBe(0);
    for (const step of [
      'Registering',
      'Querying capabilities',
      'Discovering',
      'Checking health',
      'Selecting best',
    ]) {
      expect(result.all).toContain(step);
    }
    const name = /Machine (testbed-[a-z0-9]{8}-\S+) is ready/.exec(result.all ?? '')?.[1];
    expect(result.all).toContain(`Destroyed ${name}`);
  });
});
