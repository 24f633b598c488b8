import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { placementDir } from '../../src/core/file-placement-store.js';
import type { MachineStart } from '../../src/harness/machine-start.js';
import { DockerProvider } from '../../src/providers/docker/index.js';
import { runVitest, type VitestRun } from '../fixtures/run-vitest.js';
import { runLeftovers } from './support/run-leftovers.js';

const fixture = resolve(import.meta.dirname, '../fixtures/vitest-shard');
const docker = await new DockerProvider().isAvailable();

/** What one shard did: its run, its tests, their machines and the run machine they shared. */
function shardOf(run: VitestRun) {
  expect(run.exitCode, run.output).toBe(0);
  const runId = /testbed: run ([a-z0-9]{8})/.exec(run.output)?.[1] ?? '';
  expect(runId).not.toBe('');
  const machines = run.tests.map(
    (t) => (t.meta?.testbedMachine as MachineStart | undefined)?.machine,
  );
  const shared = new Set(run.tests.map((t) => t.meta?.sharedMachine as string | undefined));
  return { runId, titles: run.tests.map((t) => t.title), machines, shared: [...shared] };
}

describe('Vitest --shard runs side by side', () => {
  it.skipIf(!docker && !process.env.CI)(
    'two shards in parallel: each provisions only its own machines under its own run, names never collide, nothing is left',
    async () => {
      const runs = await Promise.all([
        runVitest(fixture, ['--shard=1/2'], {}, 60_000),
        runVitest(fixture, ['--shard=2/2'], {}, 60_000),
      ]);
      const [one, two] = runs.map(shardOf);
      if (!one || !two) throw new Error('two shards expected');
      // Every test ran exactly once, split between the shards.
      expect([...one.titles, ...two.titles].sort()).toEqual(['four', 'one', 'three', 'two']);
      expect(one.titles.length).toBeGreaterThan(0);
      expect(two.titles.length).toBeGreaterThan(0);
      // Each shard is a run of its own: its own run id, and one run-scoped machine of that run.
      expect(one.runId).not.toBe(two.runId);
      for (const shard of [one, two]) {
        expect(shard.shared).toHaveLength(1);
        expect(shard.shared[0]).toMatch(new RegExp(`^testbed-${shard.runId}-`));
        // A machine per test of this shard, none for the other shard's tests.
        expect(shard.machines).toHaveLength(shard.titles.length);
        for (const name of shard.machines)
          expect(name).toMatch(new RegExp(`^testbed-${shard.runId}-`));
      }
      const names = [...one.machines, ...two.machines, ...one.shared, ...two.shared];
      expect(new Set(names).size).toBe(names.length);
      const { stateDir } = loadConfig();
      for (const { runId } of [one, two]) {
        expect(await runLeftovers(runId)).toEqual([]);
        expect(existsSync(placementDir(stateDir, runId))).toBe(false);
      }
    },
    60_000,
  );
});
