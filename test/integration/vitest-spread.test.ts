import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { MachineStart } from '../../src/harness/machine-start.js';
import { removeStateDirs, stateDirs } from '../fixtures/fake-state.js';
import { runVitest } from '../fixtures/run-vitest.js';

const fixture = resolve(import.meta.dirname, '../fixtures/vitest-spread');

afterEach(removeStateDirs);

describe('placement across parallel workers', () => {
  it('spreads the machines of files running at once over two equal hosts, and leaves no placement records', async () => {
    const { fake, env } = stateDirs();
    const run = await runVitest(fixture, [], env, 60_000);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.report).toMatchObject({ numPassedTests: 4 });
    const providers = run.tests.map(
      (t) => (t.meta?.testbedMachine as MachineStart | undefined)?.provider,
    );
    // Each worker alone would put every machine on `fake` (registration order breaks the tie):
    // a machine on host2 means a worker saw what another placed.
    expect(new Set(providers)).toEqual(new Set(['fake', 'fake@host2']));
    for (const id of ['fake', 'fake@host2']) {
      expect(readdirSync(join(fake, id)).filter((f) => f.endsWith('.json'))).toEqual([]);
    }
    expect(readdirSync(join(env.TESTBED_STATE_DIR, 'placements'))).toEqual([]);
  });
});
