import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import type { MachineStart } from '../../src/harness/machine-start.js';
import { LibvirtProvider } from '../../src/providers/libvirt/index.js';
import { events, machineFiles, removeStateDirs, stateDirs } from '../fixtures/fake-state.js';
import { runVitest, type VitestRun } from '../fixtures/run-vitest.js';
import { runLeftovers } from './support/run-leftovers.js';

const fixture = resolve(import.meta.dirname, '../fixtures/vitest-warm');
const config = loadConfig();
const libvirt = await new LibvirtProvider({ config }).isAvailable();

afterEach(removeStateDirs);

/** The start of each test's machine, by test title, from the JSON report's `meta`. */
function starts(run: VitestRun): Record<string, MachineStart | undefined> {
  return Object.fromEntries(
    run.tests.map((t) => [t.title, t.meta?.testbedMachine as MachineStart | undefined]),
  );
}

/** What both providers must show: 4 warm restores of one template, 1 cold boot, no waiting at teardown. */
function expectWarmRun(run: VitestRun, provider: string): void {
  expect(run.exitCode, run.output).toBe(0);
  expect(run.report).toMatchObject({ numPassedTests: 5, numFailedTests: 0 });
  const byTitle = starts(run);
  const warm = Object.values(byTitle).filter((s) => s?.start === 'warm');
  expect(warm).toHaveLength(4);
  expect(warm.filter((s) => s?.templateCreated)).toHaveLength(1);
  expect(byTitle['boots cold when it opts out']).toMatchObject({ provider, start: 'cold' });
  expect(new Set(Object.values(byTitle).map((s) => s?.machine)).size).toBe(5);
  expect(run.output).toMatch(
    new RegExp(
      `testbed: test machines: 5; warm templates: 1 \\(${provider} tiny-vm\\), restores: 4, cold boots: 1; teardown wait per test: median \\d+ ms, max \\d+ ms`,
    ),
  );
  // The test does not wait for its machine's destroy (that runs in the background): a VM's
  // `virsh destroy` alone takes 1–2 s. A loose bound: tests assert behaviour, the bench times it.
  for (const s of Object.values(byTitle)) expect(s?.teardownWaitMs).toBeLessThan(1000);
}

describe('warm templates for test-scoped machines, run as a user runs them', () => {
  it('restores from one template per spec and worker (fake provider), and leaves nothing', async () => {
    const { fake, env } = stateDirs();
    const run = await runVitest(fixture, [], env);
    expectWarmRun(run, 'fake');
    const log = events(fake);
    expect(log.filter((e) => e.startsWith('snapshot'))).toHaveLength(1);
    // The snapshot goes last, after the machines restored from it.
    expect(log.at(-1)).toMatch(/^destroy-snapshot testbed-\w+-template-/);
    expect(machineFiles(fake)).toEqual([]);
  });

  it.skipIf(!libvirt && !process.env.CI)(
    'restores tiny VMs of libvirt from a memory snapshot, each test on a machine of its own, and leaves nothing',
    async () => {
      // A store of its own: the run must make its template, not find one from an earlier run.
      const templateDir = mkdtempSync(join(config.stateDir, '..', 'templates-test-'));
      chmodSync(templateDir, 0o755);
      const run = await runVitest(fixture, [], { TESTBED_TEMPLATE_DIR: templateDir }, 240_000);
      rmSync(templateDir, { recursive: true, force: true });
      expectWarmRun(run, 'libvirt');
      const runId = /testbed: run ([a-z0-9]{8})/.exec(run.output)?.[1] ?? '';
      expect(runId).not.toBe('');
      expect(await runLeftovers(runId)).toEqual([]);
      expect(existsSync(join(config.stateDir, runId))).toBe(false);
    },
    300_000,
  );
});
