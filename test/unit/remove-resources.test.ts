import { describe, expect, it } from 'vitest';
import type { OwnedResource } from '../../src/core/provider.js';
import { removeResources } from '../../src/core/remove-resources.js';

const resource = (kind: OwnedResource['kind'], name: string, createdAt: number): OwnedResource => ({
  providerId: 'fake',
  kind,
  name,
  runId: 'run1',
  owner: { pid: 1, startTime: 1 },
  createdAt,
});

describe('removeResources', () => {
  it('removes dependents first, newest first within a kind', async () => {
    const order: string[] = [];
    const report = await removeResources(
      [
        resource('network', 'net', 1),
        resource('domain', 'old-vm', 1),
        resource('directory', 'dir', 0),
        resource('domain', 'new-vm', 2),
      ],
      async (r) => {
        order.push(r.name);
      },
      { kindOrder: ['domain', 'network'], attemptTimeoutMs: 1000, retries: 0 },
    );
    expect(order).toEqual(['new-vm', 'old-vm', 'net', 'dir']);
    expect(report.removed.map((r) => r.name)).toEqual(order);
    expect(report.failed).toEqual([]);
  });

  it('with concurrency, removes a kind several at once and starts the next kind only after it', async () => {
    const events: string[] = [];
    let running = 0;
    let most = 0;
    const report = await removeResources(
      [
        resource('volume', 'disk-a', 1),
        resource('domain', 'vm-a', 1),
        resource('volume', 'disk-b', 2),
        resource('domain', 'vm-b', 2),
        resource('volume', 'disk-c', 3),
      ],
      async (r) => {
        running++;
        most = Math.max(most, running);
        events.push(`start ${r.name}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
        events.push(`end ${r.name}`);
        running--;
      },
      { kindOrder: ['domain', 'volume'], attemptTimeoutMs: 1000, retries: 0, concurrency: 2 },
    );
    expect(most).toBe(2);
    expect(events.slice(0, 2)).toEqual(['start vm-b', 'start vm-a']);
    const lastDomainEnd = Math.max(events.indexOf('end vm-a'), events.indexOf('end vm-b'));
    const firstVolumeStart = events.findIndex((e) => e.startsWith('start disk'));
    expect(firstVolumeStart).toBeGreaterThan(lastDomainEnd);
    expect(events.filter((e) => e.startsWith('start disk'))).toEqual([
      'start disk-c',
      'start disk-b',
      'start disk-a',
    ]);
    expect(report.removed).toHaveLength(5);
  });

  it('retries a failed removal, then reports one that will not go and carries on', async () => {
    const attempts = new Map<string, number>();
    const report = await removeResources(
      [resource('domain', 'flaky', 2), resource('domain', 'stuck', 1)],
      async (r) => {
        const n = (attempts.get(r.name) ?? 0) + 1;
        attempts.set(r.name, n);
        if (r.name === 'stuck' || n < 2) throw new Error(`${r.name} is busy`);
      },
      { kindOrder: ['domain'], attemptTimeoutMs: 1000, retries: 2 },
    );
    expect(attempts.get('flaky')).toBe(2);
    expect(attempts.get('stuck')).toBe(3);
    expect(report.removed.map((r) => r.name)).toEqual(['flaky']);
    expect(report.failed).toEqual([
      { resource: expect.objectContaining({ name: 'stuck' }), error: 'stuck is busy' },
    ]);
  });

  it('bounds each attempt, so a removal that hangs is reported instead of blocking', async () => {
    const report = await removeResources(
      [resource('container', 'hung', 1)],
      () => new Promise(() => {}),
      { kindOrder: [], attemptTimeoutMs: 50, retries: 0 },
    );
    expect(report.failed[0]?.error).toBe('removing container hung did not finish within 50 ms.');
  });
});
