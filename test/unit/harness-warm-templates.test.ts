import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseCapability } from '../../src/core/capabilities.js';
import { ProviderRegistry } from '../../src/core/registry.js';
import { createRunContext } from '../../src/core/run-context.js';
import { MachineSource } from '../../src/harness/machine-source.js';
import type { RunSnapshot } from '../../src/harness/run-snapshot.js';
import { templateSpec } from '../../src/harness/template-spec.js';
import { type CapabilityString, Wait } from '../../src/index.js';
import { FakeProvider, type FakeProviderOptions } from '../fixtures/fake-provider.js';

const WARM: CapabilityString[] = [
  'ProvisionVm',
  'SerialConsole',
  'Exec',
  'FileTransfer',
  'Snapshot',
  'WarmSnapshot',
];
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function setup(options: Partial<FakeProviderOptions> = {}, snapshot: Partial<RunSnapshot> = {}) {
  const stateDir = mkdtempSync(join(tmpdir(), 'testbed-warm-'));
  dirs.push(stateDir);
  const provider = new FakeProvider({ stateDir, capabilities: WARM, ...options });
  const caps = (options.capabilities ?? WARM).map(parseCapability);
  const run: RunSnapshot = {
    run: createRunContext(),
    candidates: [{ id: 'fake', capabilities: caps, available: true, healthy: true }],
    preference: undefined,
    onUnmet: 'skip',
    keepOnFailure: false,
    warm: true,
    timeoutMs: undefined,
    registry: undefined,
    machines: {},
    ...snapshot,
  };
  const source = new MachineSource(new ProviderRegistry().register(provider), run);
  // Events without the run id and pid: `provision m-1`, `restore template-1-snap as m-2`.
  const events = () =>
    provider.events.map((e) =>
      e.replaceAll(`testbed-${run.run.runId}-`, '').replace(/-\d+-(\d+)/g, '-$1'),
    );
  return { provider, source, events };
}

describe('templateSpec', () => {
  it('keys specs by what makes the template, not by per-test members or member order', () => {
    const a = templateSpec(
      {
        image: 'tiny-vm',
        memoryMiB: 256,
        userData: { a: 1, b: [1, 2] },
        name: 'x',
        hostname: 'h1',
      },
      ['fake', 'run1'],
    );
    const b = templateSpec(
      {
        userData: { b: [1, 2], a: 1 },
        memoryMiB: 256,
        image: 'tiny-vm',
        timeoutMs: 5,
        files: [{ content: 'x', target: '/x' }],
        waitFor: Wait.forPort(80),
        networks: [],
        signal: new AbortController().signal,
      },
      ['fake', 'run1'],
    );
    expect(a.key).toBe(b.key);
    expect(a.spec).toEqual({ image: 'tiny-vm', memoryMiB: 256, userData: { a: 1, b: [1, 2] } });
    expect(templateSpec({ image: 'debian-12' }, ['fake', 'run1']).key).not.toBe(a.key);
    expect(
      templateSpec({ image: 'tiny-vm', memoryMiB: 256, userData: { a: 1, b: [1, 2] } }, [
        'fake',
        'run2',
      ]).key,
    ).not.toBe(a.key);
  });

  it('compares instances and functions by identity', () => {
    const one = new (class Client {})();
    const other = new (class Client {})();
    expect(templateSpec({ client: one }, []).key).toBe(templateSpec({ client: one }, []).key);
    expect(templateSpec({ client: one }, []).key).not.toBe(templateSpec({ client: other }, []).key);
  });
});

describe('MachineSource.provisionForTest', () => {
  it('restores every test of a spec from one template, made once while tests wait for it', async () => {
    const { source, events } = setup({ provisionMs: 20 });
    const [first, second] = await Promise.all([
      source.provisionForTest('fake', { image: 'tiny-vm', name: 'a' }),
      source.provisionForTest('fake', { image: 'tiny-vm', name: 'b' }),
    ]);
    const third = await source.provisionForTest('fake', { name: 'c', image: 'tiny-vm' });
    expect(first?.start).toEqual({
      start: 'warm',
      template: 'fake tiny-vm',
      templateCreated: true,
    });
    expect(second?.start).toEqual({
      start: 'warm',
      template: 'fake tiny-vm',
      templateCreated: false,
    });
    expect(third.start.templateCreated).toBe(false);
    expect(events()).toEqual([
      'provision template-1',
      'snapshot template-1-snap warm',
      'destroy template-1',
      'restore template-1-snap as a-2',
      'restore template-1-snap as b-3',
      'restore template-1-snap as c-4',
    ]);
    for (const t of [first, second, third]) source.destroyLater(t.machine);
    await source.release();
    // The restored machines go before the snapshot they came from.
    expect(events().slice(-4)).toEqual([
      'destroy a-2',
      'destroy b-3',
      'destroy c-4',
      'destroy-snapshot template-1-snap',
    ]);
  });

  it('makes one template per distinct spec and destroys them newest first', async () => {
    const { source, events } = setup();
    await source.provisionForTest('fake', { image: 'one' });
    await source.provisionForTest('fake', { image: 'two' });
    expect(source.templates.templates.labels()).toEqual(['fake one', 'fake two']);
    await source.release();
    expect(events().filter((e) => e.startsWith('destroy-snapshot'))).toEqual([
      'destroy-snapshot template-3-snap',
      'destroy-snapshot template-1-snap',
    ]);
  });

  it('puts the spec files in place and waits for waitFor after a restore', async () => {
    const { source, provider } = setup();
    const checked: string[] = [];
    const { machine } = await source.provisionForTest('fake', {
      files: [{ content: 'hello', target: '/etc/app.conf' }],
      waitFor: {
        description: 'the app',
        check: async (m) => {
          checked.push((await m.readFile?.('/etc/app.conf'))?.toString() ?? '');
          return { ok: true, detail: 'up' };
        },
      },
    });
    expect(provider.events.at(-1)).toBe(`write ${machine.name} /etc/app.conf`);
    expect(checked).toEqual(['hello']);
    await source.release();
  });

  it('boots cold with warm: false, with the run switched off, and on a provider without WarmSnapshot', async () => {
    const optOut = setup();
    expect((await optOut.source.provisionForTest('fake', {}, { warm: false })).start).toEqual({
      start: 'cold',
    });
    const runOff = setup({}, { warm: false });
    expect((await runOff.source.provisionForTest('fake', {})).start).toEqual({ start: 'cold' });
    // Per test wins over the run.
    expect((await runOff.source.provisionForTest('fake', {}, { warm: true })).start.start).toBe(
      'warm',
    );
    const noWarm = setup({ capabilities: ['ProvisionVm', 'Exec', 'Snapshot'] });
    expect((await noWarm.source.provisionForTest('fake', {})).start).toEqual({ start: 'cold' });
    for (const s of [optOut, noWarm]) {
      expect(s.events().filter((e) => e.includes('snapshot') || e.includes('template'))).toEqual(
        [],
      );
    }
    for (const s of [optOut, runOff, noWarm]) await s.source.release();
  });

  it("fails every test of a spec with the template's error, without booting it again", async () => {
    const { source, events } = setup({ failSnapshot: true });
    const errors = await Promise.all(
      [1, 2].map((n) =>
        source.provisionForTest('fake', { name: `t${n}` }).catch((e: unknown) => e),
      ),
    );
    const late = await source.provisionForTest('fake', {}).catch((e: unknown) => e);
    for (const error of [...errors, late])
      expect(String(error)).toMatch(/fake: cannot snapshot testbed-\w+-template-/);
    // The template machine is removed; nothing was restored.
    expect(events()).toEqual(['provision template-1', 'destroy template-1']);
    await source.release();
  });

  it('fails a provisioning error of the template the same way', async () => {
    const { source } = setup({ failAfter: 0 });
    await expect(source.provisionForTest('fake', {})).rejects.toThrow(
      'fake: provisioning machine 1 failed',
    );
    await source.release();
  });

  it('lets a test give up waiting for the template while the others still get it', async () => {
    const { source, events } = setup({ provisionMs: 50 });
    const budget = new AbortController();
    const impatient = source.provisionForTest('fake', {}, { signal: budget.signal });
    const patient = source.provisionForTest('fake', { name: 'p' });
    budget.abort(new Error('test timed out'));
    await expect(impatient).rejects.toThrow('test timed out');
    expect((await patient).start.start).toBe('warm');
    expect(events().filter((e) => e.startsWith('restore'))).toHaveLength(1);
    await source.release();
  });
});

describe('MachineSource.destroyLater', () => {
  it('returns while the destroy runs, and release() waits for it', async () => {
    const { source } = setup({ capabilities: ['ProvisionVm'] });
    const machine = await source.provision('fake', {});
    let finish = () => {};
    const steps: string[] = [];
    machine.destroy = () =>
      new Promise<void>((resolve) => {
        steps.push('destroy started');
        finish = () => {
          steps.push('destroy finished');
          resolve();
        };
      });
    source.destroyLater(machine);
    steps.push('test goes on');
    const released = source.release().then(() => steps.push('released'));
    await new Promise((r) => setTimeout(r, 10));
    expect(steps).toEqual(['destroy started', 'test goes on']);
    finish();
    await released;
    expect(steps).toEqual(['destroy started', 'test goes on', 'destroy finished', 'released']);
  });

  it('reports failures when the source is released', async () => {
    const { source, provider } = setup({ failDestroy: 'doomed', capabilities: ['ProvisionVm'] });
    const doomed = await source.provision('fake', { name: 'doomed' });
    const fine = await source.provision('fake', { name: 'fine' });
    source.destroyLater(doomed);
    source.destroyLater(fine);
    const reported: string[] = [];
    await source.release((m) => reported.push(m));
    expect(provider.machines()).toEqual([doomed.name]);
    expect(reported).toEqual([
      `testbed: could not destroy machine ${doomed.name}: fake: ${doomed.name} will not die`,
    ]);
  });
});
