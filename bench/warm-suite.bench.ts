import { resolve } from 'node:path';
import type { MachineStart } from '../src/harness/machine-start.js';
import { LibvirtProvider } from '../src/index.js';
import { runVitest } from '../test/fixtures/run-vitest.js';
import type { Measurement } from './measure.js';

const suite = resolve(import.meta.dirname, 'fixtures/vitest-warm-suite');

/** Runs the 10-VM suite once; its wall time and each test's machine start. */
async function runSuite(env: Record<string, string>) {
  const started = performance.now();
  const run = await runVitest(suite, [], env, 900_000);
  const wallMs = performance.now() - started;
  if (run.exitCode !== 0) throw new Error(`the warm bench suite failed:\n${run.output}`);
  const starts = run.tests.map((t) => t.meta?.testbedMachine as MachineStart);
  return { wallMs, starts };
}

/** A suite of 10 test-scoped tiny VMs through the Vitest plugin: warm templates vs cold boots. */
export async function benchWarmSuite(): Promise<Measurement[]> {
  if (!(await new LibvirtProvider().isAvailable())) return [];
  const warm = await runSuite({});
  const cold = await runSuite({ TESTBED_WARM: '0' });
  const ready = (starts: MachineStart[], pick: (s: MachineStart) => boolean) =>
    starts.filter(pick).map((s) => s.readyMs ?? Number.NaN);
  return [
    { name: 'suite of 10 test-scoped tiny VMs: wall time, warm', samples: [warm.wallMs] },
    {
      name: 'suite of 10 test-scoped tiny VMs: wall time, cold (TESTBED_WARM=0)',
      samples: [cold.wallMs],
    },
    {
      name: 'test machine ready: warm restore (template made by the first test)',
      samples: ready(warm.starts, (s) => s.start === 'warm' && !s.templateCreated),
    },
    {
      name: 'test machine ready: first test (template boot + save + restore)',
      samples: ready(warm.starts, (s) => s.templateCreated === true),
    },
    { name: 'test machine ready: cold boot', samples: ready(cold.starts, () => true) },
    {
      name: 'teardown wait per test (destroy in the background)',
      samples: [...warm.starts, ...cold.starts].map((s) => s.teardownWaitMs ?? Number.NaN),
    },
  ];
}
