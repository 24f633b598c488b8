import { describe, expect, it } from 'vitest';
import type { OwnedResource, VmBackendProvider } from '../../src/core/provider.js';
import { reapRun } from '../../src/reaper/reap-run.js';
import { watchOwner } from '../../src/reaper/watch-owner.js';

describe('watchOwner', () => {
  it('returns owner-died once the owner is gone, after polling while it lived', async () => {
    let looks = 0;
    const sleeps: number[] = [];
    const outcome = await watchOwner({
      isOwnerAlive: () => ++looks < 3,
      isStopRequested: () => false,
      pollMs: 250,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });
    expect(outcome).toBe('owner-died');
    expect(sleeps).toEqual([250, 250]);
  });

  it('returns stopped when the run ended cleanly, even if the owner exits right after', async () => {
    let stop = false;
    const outcome = await watchOwner({
      isOwnerAlive: () => !stop,
      isStopRequested: () => stop,
      pollMs: 10,
      sleep: async () => {
        stop = true;
      },
    });
    expect(outcome).toBe('stopped');
  });
});

const resource = (providerId: string, name: string): OwnedResource => ({
  providerId,
  kind: 'domain',
  name,
  runId: 'run1',
  owner: { pid: 1, startTime: 1 },
});

/** A provider whose successive `removeRun` answers are scripted. */
function scripted(
  id: string,
  answers: (OwnedResource[] | { stuck: OwnedResource } | 'throw' | 'hang')[],
): VmBackendProvider & { calls: number } {
  const provider = {
    calls: 0,
    id,
    name: id,
    setupHint: '',
    isAvailable: async () => true,
    capabilities: () => [],
    vmType: () => 'FullVirt' as const,
    checkHealth: () => Promise.reject(new Error('unused')),
    createProvisioner: () => Promise.reject(new Error('unused')),
    removeRun: async () => {
      const answer = answers[Math.min(provider.calls++, answers.length - 1)] ?? [];
      if (answer === 'throw') throw new Error(`${id} daemon is down`);
      if (answer === 'hang') return new Promise<never>(() => {});
      if ('stuck' in answer)
        return { removed: [], failed: [{ resource: answer.stuck, error: 'busy' }] };
      return { removed: answer, failed: [] };
    },
  };
  return provider;
}

describe('reapRun', () => {
  const noSleep = async () => {};

  it('removes on every provider, then sweeps again to catch resources created late', async () => {
    const late = resource('libvirt', 'late-domain');
    const libvirt = scripted('libvirt', [[resource('libvirt', 'vm')], [late], []]);
    const docker = scripted('docker', [[resource('docker', 'c')], [], []]);
    const lines: string[] = [];
    const sleeps: number[] = [];
    const summary = await reapRun('run1', [libvirt, docker], {
      log: (l) => lines.push(l),
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      resweepDelaysMs: [3000, 15000],
    });
    expect(summary.removed.map((r) => r.name)).toEqual(['vm', 'c', 'late-domain']);
    expect(summary.failed).toEqual([]);
    expect(libvirt.calls).toBe(3);
    expect(sleeps).toEqual([3000, 15000]);
    expect(lines).toContain('removed libvirt domain late-domain');
  });

  it('retries a failing provider with doubling backoff, and reports what is left after the last attempt', async () => {
    const stuck = resource('libvirt', 'stuck-vm');
    const libvirt = scripted('libvirt', [{ stuck }]);
    const docker = scripted('docker', ['throw', []]);
    const sleeps: number[] = [];
    const summary = await reapRun('run1', [libvirt, docker], {
      log: () => {},
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      attempts: 4,
      backoffMs: 100,
      resweepDelaysMs: [],
    });
    expect(sleeps).toEqual([100, 200, 400]);
    expect(libvirt.calls).toBe(4);
    expect(docker.calls).toBe(2);
    expect(summary.failed).toEqual([{ providerId: 'libvirt', resource: stuck, error: 'busy' }]);
  });

  it('gives up on a provider that hangs, within its timeout', async () => {
    const hung = scripted('libvirt', ['hang']);
    const summary = await reapRun('run1', [hung], {
      log: () => {},
      sleep: noSleep,
      attempts: 2,
      resweepDelaysMs: [],
      timeoutMs: 50,
    });
    expect(hung.calls).toBe(2);
    expect(summary.failed[0]?.error).toContain('did not finish within 50 ms');
  });
});
