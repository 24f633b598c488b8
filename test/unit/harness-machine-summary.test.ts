import { describe, expect, it } from 'vitest';
import { formatMachineSummary } from '../../src/harness/machine-summary.js';
import { ownTemplates, sharedTemplates } from '../../src/harness/template-lease.js';
import { checkTestOptions } from '../../src/vitest/test-options-schema.js';

describe('formatMachineSummary', () => {
  it('counts templates, restores and cold boots, and the teardown waits', () => {
    const warm = {
      provider: 'libvirt',
      machine: 'm',
      start: 'warm',
      template: 'libvirt tiny-vm',
    } as const;
    const line = formatMachineSummary([
      { ...warm, templateCreated: true, teardownWaitMs: 3 },
      { ...warm, templateCreated: false, teardownWaitMs: 1 },
      { ...warm, templateCreated: false, teardownWaitMs: 2 },
      { provider: 'libvirt', machine: 'c', start: 'cold', teardownWaitMs: 9 },
    ]);
    expect(line).toBe(
      'testbed: test machines: 4; warm templates: 1 (libvirt tiny-vm), restores: 3, cold boots: 1; teardown wait per test: median 3 ms, max 9 ms',
    );
  });

  it('says nothing when no machine started warm', () => {
    expect(
      formatMachineSummary([{ provider: 'docker', machine: 'c', start: 'cold' }]),
    ).toBeUndefined();
    expect(formatMachineSummary([])).toBeUndefined();
  });
});

describe('template leases', () => {
  it("share one process's templates until the last lease is given back", async () => {
    const a = sharedTemplates();
    const b = sharedTemplates();
    expect(b.templates).toBe(a.templates);
    let destroyed = 0;
    a.templates.get('k', 'fake x', async () => ({
      id: 's',
      warm: true,
      restore: () => Promise.reject(new Error('unused')),
      destroy: async () => {
        destroyed += 1;
      },
    }));
    await a.release(() => {});
    await a.release(() => {});
    expect(destroyed).toBe(0);
    await b.release(() => {});
    expect(destroyed).toBe(1);
    const next = sharedTemplates();
    expect(next.templates).not.toBe(a.templates);
    await next.release(() => {});
    expect(ownTemplates().templates).not.toBe(a.templates);
  });
});

describe('checkTestOptions', () => {
  it('names a bad warm, scope or onUnmet with what it got', () => {
    expect(() => checkTestOptions({ needs: [], warm: 'yes', onUnmet: 'ignore' })).toThrow(
      /warm: must be true or false \(got "yes"\)\n\s+- onUnmet: must be 'skip' or 'fail' \(got "ignore"\)/,
    );
    expect(() => checkTestOptions({ needs: [], warm: false, scope: 'file' })).not.toThrow();
  });
});
