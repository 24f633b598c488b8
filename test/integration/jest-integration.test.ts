import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events, machineFiles, removeStateDirs, stateDirs } from '../fixtures/fake-state.js';
import { hasJest, jestBin, runJest } from '../fixtures/run-jest.js';
import { runLeftovers } from './support/run-leftovers.js';

const fixtures = resolve(import.meta.dirname, '../fixtures');
const byFile = (name: string) => (r: { name: string }) => r.name.endsWith(name);

beforeAll(() => {
  if (!hasJest()) throw new Error(`Jest is a devDependency but ${jestBin} is missing: run npm ci.`);
  if (!existsSync(resolve(fixtures, '../../dist/jest/environment.mjs'))) {
    throw new Error('The Jest fixtures load testbed from dist/: run `npm run build` first.');
  }
});

// After all: the tests run at once, and each has state directories of its own until then.
afterAll(removeStateDirs);

// Three Jest runs at once: two on the fake provider (CPU for Jest's start), one booting a VM.
describe.concurrent('testbed/jest, run as a user runs it', () => {
  it('provisions run and file machines, skips unmet needs with the reason, leaves nothing', async () => {
    const { fake, env } = stateDirs();
    const run = await runJest(join(fixtures, 'jest-fake/jest.config.mjs'), env);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.report).toMatchObject({ numPassedTests: 5, numFailedTests: 0, numPendingTests: 2 });
    for (const file of ['pragma-unmet.test.mjs', 'use-machine-unmet.test.mjs']) {
      const result = run.report?.testResults.find(byFile(file));
      expect(result?.assertionResults.map((a) => a.status)).toEqual(['pending']);
    }
    expect(run.output).toMatch(
      /testbed: skipping the tests of \S+pragma-unmet\.test\.mjs: No available provider offers Custom\(gpu\):\n\s+- fake: lacks Custom\(gpu\)/,
    );
    expect(run.output).toMatch(
      /testbed: skipping the tests of \S+use-machine-unmet\.test\.mjs: No available provider offers Custom\(gpu\)/,
    );
    expect(run.output.match(/testbed: discovered 1 provider/g)).toHaveLength(1);
    const log = events(fake);
    expect(log.filter((e) => e.startsWith('provision') && e.includes('-web-'))).toHaveLength(1);
    expect(log.at(-1)).toMatch(/^destroy testbed-\w+-web-/);
    expect(log.filter((e) => e.startsWith('destroy'))).toHaveLength(
      log.filter((e) => e.startsWith('provision')).length,
    );
    expect(machineFiles(fake)).toEqual([]);
  });

  it("appends the machine's console tail to a failed test, and fails bad needs at collection", async () => {
    const { fake, env } = stateDirs();
    const run = await runJest(join(fixtures, 'jest-failing/jest.config.mjs'), env);
    expect(run.exitCode).toBe(1);
    const failed = run.report?.testResults.find(byFile('fails.test.mjs'))?.assertionResults[0];
    expect(failed?.status).toBe('failed');
    const report = failed?.failureMessages.find((m) =>
      m.startsWith('testbed: machines of this test'),
    );
    expect(report).toMatch(
      /machine testbed-\w+-m-\d+-1 \(fake, FullVirt\)\n {2}console tail:\n(.|\n)*\| testbed-ready testbed-/,
    );
    const bad = run.report?.testResults.find(byFile('unknown-need.test.mjs'));
    expect(bad?.message).toContain(
      `Unknown capability "SerialConsol": not a capability name. Did you mean 'SerialConsole'?`,
    );
    expect(bad?.message).toContain('Use one of ProvisionVm, CloneVm, SerialConsole');
    expect(machineFiles(fake)).toEqual([]);
  });

  it('examples/jest: VM from a docblock, container from useMachine, two containers from useMachines, unmet GPU skipped', async () => {
    // The example's own config, resolving testbed/jest/* through the package's exports.
    const run = await runJest(join(fixtures, '../../examples/jest/jest.config.mjs'), {}, 400_000);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.report).toMatchObject({ numPassedTests: 7, numFailedTests: 0, numPendingTests: 1 });
    expect(run.output).toMatch(
      /testbed: skipping the tests of \S+unmet\.test\.mjs: No available provider offers Custom\(gpu\)/,
    );
    const runId = /testbed: run ([a-z0-9]{8})/.exec(run.output)?.[1] ?? '';
    expect(runId).not.toBe('');
    expect(await runLeftovers(runId)).toEqual([]);
  });
});
