import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { events, machineFiles, removeStateDirs, stateDirs } from '../fixtures/fake-state.js';
import { runVitest } from '../fixtures/run-vitest.js';

const fixtures = resolve(import.meta.dirname, '../fixtures');

beforeAll(() => {
  if (!existsSync(resolve(fixtures, '../../dist/vitest/index.js'))) {
    throw new Error('testbed/vitest resolves to dist/: run `npm run build` first.');
  }
});

afterEach(removeStateDirs);

describe('the testbed Vitest plugin, run as a user runs it', () => {
  it('provisions run machines once for all projects, skips unmet needs with the reason, leaves nothing', async () => {
    const { fake, env } = stateDirs();
    const run = await runVitest(join(fixtures, 'vitest-fake'), [], env);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.report).toMatchObject({ numPassedTests: 4, numFailedTests: 0, numPendingTests: 2 });
    const skipped = run.tests.filter((t) => t.status === 'skipped').map((t) => t.title);
    expect(skipped.sort()).toEqual([
      'needs a gpu nobody offers',
      'skips when a run-scoped machine is unmet',
    ]);
    // The reason (verbose reporter): what is missing, where, and what to do.
    expect(run.output).toMatch(
      /needs a gpu nobody offers.*\[No available provider offers Custom\(gpu\):\n\s+- fake: lacks Custom\(gpu\)/,
    );
    expect(run.output).toContain('Fix: Apply a fix above, drop the needs no provider offers');
    // Also with the default reporter (testbed's own prints the reasons at the end), and in JSON.
    expect(run.output).toContain('testbed: tests skipped for unmet needs\n ↓ ');
    expect(run.output).toMatch(
      /↓ a\/machines\.test\.ts > needs a gpu nobody offers\n {3}No available provider offers Custom\(gpu\)/,
    );
    const gpu = run.tests.find((t) => t.title === 'needs a gpu nobody offers');
    expect(gpu?.meta?.testbedUnmet).toMatch(/^No available provider offers Custom\(gpu\)/);
    // Discovery and run machines happen once per run although the config has two projects.
    expect(run.output.match(/testbed: discovered 1 provider/g)).toHaveLength(1);
    const log = events(fake);
    const runMachine = log.filter((e) => e.startsWith('provision') && e.includes('-web-'));
    expect(runMachine).toHaveLength(1);
    expect(log.at(-1)).toBe(runMachine[0]?.replace('provision', 'destroy'));
    const provisioned = log.filter((e) => e.startsWith('provision')).map((e) => e.slice(10));
    const destroyed = log.filter((e) => e.startsWith('destroy')).map((e) => e.slice(8));
    expect(destroyed.sort()).toEqual(provisioned.sort());
    expect(machineFiles(fake)).toEqual([]);
  });

  it('puts the console tail, provider and machine of a failed test in its report', async () => {
    const { fake, env } = stateDirs();
    const run = await runVitest(join(fixtures, 'vitest-failing'), ['fails'], env);
    expect(run.exitCode).toBe(1);
    const failed = run.tests.find((t) => t.status === 'failed');
    expect(failed?.title).toBe('fails on purpose after booting');
    const [diagnostics] = (failed?.meta?.testbed ?? []) as Record<string, unknown>[];
    expect(diagnostics).toMatchObject({ provider: 'fake', vmType: 'FullVirt', kept: false });
    expect(diagnostics?.consoleTail).toMatch(/testbed-ready testbed-\w+-m-/);
    // A passing test gets no diagnostics, only how its machine started (cold: no WarmSnapshot).
    const passed = run.tests.find((t) => t.status === 'passed')?.meta;
    expect(passed?.testbed).toBeUndefined();
    expect(passed?.testbedMachine).toMatchObject({ provider: 'fake', start: 'cold' });
    expect(run.output).toContain('testbed: machines of failed tests');
    expect(run.output).toContain(
      ` FAIL fails.test.ts > fails on purpose after booting\n   machine ${String(diagnostics?.machine)} (fake, FullVirt)`,
    );
    expect(run.output).toContain('set keepOnFailure to keep them');
    expect(machineFiles(fake)).toEqual([]);
  });

  it("keeps a failed machine's artifacts with keepOnFailure and says where", async () => {
    const { fake, env } = stateDirs();
    const run = await runVitest(join(fixtures, 'vitest-failing'), ['fails'], {
      ...env,
      TESTBED_KEEP: '1',
    });
    expect(run.exitCode).toBe(1);
    const failed = run.tests.find((t) => t.status === 'failed');
    const [diagnostics] = (failed?.meta?.testbed ?? []) as {
      kept: boolean;
      artifacts: Record<string, string>;
    }[];
    expect(diagnostics?.kept).toBe(true);
    const kept = diagnostics?.artifacts.state ?? '';
    expect(run.output).toContain(`kept for inspection:\n       state: ${kept}`);
    expect(existsSync(kept)).toBe(true);
    // Only the failed test's machine is kept; the passing test's is gone.
    expect(machineFiles(fake)).toHaveLength(1);
  });

  it('fails at collection on an unknown capability, listing the valid names', async () => {
    const { fake, env } = stateDirs();
    const run = await runVitest(join(fixtures, 'vitest-failing'), ['unknown-need'], env);
    expect(run.exitCode).toBe(1);
    expect(run.report?.numFailedTestSuites).toBe(1);
    const message = run.report?.testResults[0]?.message ?? '';
    expect(message).toContain(
      `Unknown capability "SerialConsol": not a capability name. Did you mean 'SerialConsole'?`,
    );
    expect(message).toContain('Use one of ProvisionVm, CloneVm, SerialConsole');
    expect(run.tests).toEqual([]);
    expect(machineFiles(fake)).toEqual([]);
  });

  it('rejects a misspelled plugin option with a zod error naming it', async () => {
    const { env } = stateDirs();
    const run = await runVitest(
      join(fixtures, 'vitest-failing'),
      ['--config', 'vitest.misspelled.config.ts'],
      env,
    );
    expect(run.exitCode).toBe(1);
    expect(run.output).toContain("keepOnFailur: unknown option; did you mean 'keepOnFailure'?");
  });
});
