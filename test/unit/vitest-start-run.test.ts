import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { noGuard, type RunGuard } from '../../src/harness/run-guard.js';
import { startRun } from '../../src/harness/start-run.js';
import { parseTestbedOptions } from '../../src/harness/testbed-options.js';
import { NoMatchingProviderError, ProviderRegistry } from '../../src/index.js';
import { FakeProvider, type FakeProviderOptions } from '../fixtures/fake-provider.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function setup(fake: Partial<FakeProviderOptions> = {}) {
  const stateDir = mkdtempSync(join(tmpdir(), 'testbed-start-run-'));
  dirs.push(stateDir);
  const provider = new FakeProvider({ stateDir, ...fake });
  const registry = new ProviderRegistry().register(provider);
  const lines: string[] = [];
  return { provider, registry, lines, log: (line: string) => lines.push(line) };
}

const machines = {
  web: { needs: ['SerialConsole'] as const },
  gpu: { needs: ['Custom(gpu)'] as const },
  db: { needs: ['Exec'] as const },
};

describe('startRun', () => {
  it('discovers once, provisions in order, records unmet machines and destroys in reverse', async () => {
    const { provider, registry, lines, log } = setup();
    const run = await startRun({
      options: parseTestbedOptions({ machines }),
      registry,
      log,
      env: {},
    });
    expect(lines[0]).toMatch(/^testbed: discovered 1 provider\(s\) in \d+ ms/);
    expect(lines[0]).toContain('+ fake  healthy; fake 1.0;');
    const { web, gpu, db } = run.snapshot.machines;
    expect(web).toMatchObject({ available: true, descriptor: { providerId: 'fake' } });
    expect(db).toMatchObject({ available: true });
    expect(gpu).toMatchObject({ available: false, needs: ['Custom(gpu)'] });
    expect(gpu?.available === false && gpu.reason).toContain('lacks Custom(gpu)');
    expect(structuredClone(run.snapshot)).toEqual(run.snapshot);
    expect(provider.machines()).toHaveLength(2);

    await run.stop();
    const names = provider.events.map((e) => e.split(' ')[1]);
    expect(provider.events.map((e) => e.split(' ')[0])).toEqual([
      'provision',
      'provision',
      'destroy',
      'destroy',
    ]);
    expect(names[2]).toBe(names[1]);
    expect(names[3]).toBe(names[0]);
    expect(provider.machines()).toEqual([]);
  });

  it("fails the run on an unmet machine with onUnmet 'fail', leaving nothing", async () => {
    const { provider, registry, log } = setup();
    const options = parseTestbedOptions({ machines, onUnmet: 'fail' });
    await expect(
      startRun({ options, registry, log, env: {}, guard: noGuard }),
    ).rejects.toBeInstanceOf(NoMatchingProviderError);
    expect(provider.machines()).toEqual([]);
  });

  it('destroys what it created when a later provisioning fails', async () => {
    const { provider, registry, log } = setup({ failAfter: 1 });
    const options = parseTestbedOptions({ machines: { a: machines.web, b: machines.db } });
    await expect(startRun({ options, registry, log, env: {}, guard: noGuard })).rejects.toThrow(
      /provisioning machine 2 failed/,
    );
    expect(provider.machines()).toEqual([]);
    expect(provider.events.filter((e) => e.startsWith('destroy'))).toHaveLength(1);
  });

  it('tries every machine at stop and then reports the ones that would not die', async () => {
    const { provider, registry, lines, log } = setup({ failDestroy: '-stuck-' });
    const options = parseTestbedOptions({
      machines: { a: { needs: ['Exec'], spec: { name: 'stuck' } }, b: machines.db },
    });
    const run = await startRun({ options, registry, log, env: {}, guard: noGuard });
    await expect(run.stop()).rejects.toThrow(/1 run machine\(s\) could not be destroyed/);
    expect(provider.events.filter((e) => e.startsWith('destroy'))).toHaveLength(2);
    expect(lines.some((l) => l.includes('will not die'))).toBe(true);
  });

  it('ranks with the preference from the options over TESTBED_PROVIDERS', async () => {
    const { registry, log } = setup();
    const stateDir = mkdtempSync(join(tmpdir(), 'testbed-start-run-'));
    dirs.push(stateDir);
    registry.register(new FakeProvider({ id: 'other', stateDir }));
    const options = parseTestbedOptions({ machines: { a: machines.db }, providers: ['other'] });
    const run = await startRun({
      options,
      registry,
      log,
      env: { TESTBED_PROVIDERS: 'fake' },
      guard: noGuard,
    });
    expect(run.snapshot.machines.a).toMatchObject({ descriptor: { providerId: 'other' } });
    await run.stop();
  });

  it('starts the watchdog before provisioning and stops it only after a clean end', async () => {
    const { provider, registry, lines, log } = setup({ failDestroy: '-stuck-' });
    const calls: string[] = [];
    const guard: RunGuard = {
      sweep: async (_registry, run) => {
        calls.push(`sweep ${run.runId}`);
        return 'testbed: removed 2 resource(s) left by dead runs';
      },
      watch: async (run) => {
        calls.push(`watch ${run.runId} after ${provider.events.length} events`);
        return { stop: async () => void calls.push('stop') };
      },
    };
    const clean = await startRun({
      options: parseTestbedOptions({ machines: { a: machines.db } }),
      registry,
      log,
      env: {},
      guard,
    });
    expect(calls).toEqual([
      `sweep ${clean.snapshot.run.runId}`,
      `watch ${clean.snapshot.run.runId} after 0 events`,
    ]);
    expect(lines).toContain('testbed: removed 2 resource(s) left by dead runs');
    await clean.stop();
    expect(calls.at(-1)).toBe('stop');

    calls.length = 0;
    const options = parseTestbedOptions({
      machines: { a: { needs: ['Exec'], spec: { name: 'stuck' } } },
    });
    const stuck = await startRun({ options, registry, log, env: {}, guard });
    await expect(stuck.stop()).rejects.toThrow(/could not be destroyed/);
    expect(calls).not.toContain('stop');
  });
});
