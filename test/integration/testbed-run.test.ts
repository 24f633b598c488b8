import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { ProviderRegistry } from '../../src/core/registry.js';
import { DockerProvider } from '../../src/providers/docker/index.js';
import { TestbedRun } from '../../src/testbed-run.js';
import { runLeftovers } from './support/run-leftovers.js';

const provider = new DockerProvider({ config: loadConfig() });
const available = await provider.isAvailable();

describe.skipIf(!available && !process.env.CI)('TestbedRun: the core API run lifecycle', () => {
  const started: string[] = [];
  afterAll(async () => {
    for (const runId of started) await provider.removeRun(runId);
  });

  it('removes everything the run created when it ends, as the README snippet uses it', async () => {
    if (!available) throw new Error(`Docker is not available here: ${provider.setupHint}`);
    let runId = '';
    {
      await using run = await TestbedRun.start({
        registry: new ProviderRegistry().register(provider),
      });
      runId = run.context.runId;
      started.push(runId);
      const provisioner = await run.provisioner(['VmType(Container)', 'Exec']);
      // A machine that is never destroyed by hand: the run's end must still remove it.
      const machine = await provisioner.provision({ name: 'left' });
      expect((await machine.exec?.(['echo', 'up']))?.stdout).toBe('up\n');
      expect(await runLeftovers(runId)).not.toEqual([]);
    }
    expect(await runLeftovers(runId)).toEqual([]);
  });
});
