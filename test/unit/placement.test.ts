import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseNeeds } from '../../src/core/capabilities.js';
import {
  filePlacementStore,
  placementDir,
  removePlacements,
} from '../../src/core/file-placement-store.js';
import { compareFreeCapacity, freeShare } from '../../src/core/placement.js';
import { demandOf, PlacementLedger } from '../../src/core/placement-ledger.js';
import type { ProviderCapacity } from '../../src/core/provider.js';
import { type RankingCandidate, rankProviders } from '../../src/core/ranking.js';
import { ProviderRegistry } from '../../src/core/registry.js';
import { engineCapacity } from '../../src/providers/docker/engine-capacity.js';
import { parseNodeCapacity } from '../../src/providers/libvirt/node-capacity.js';
import { fakeProvider } from './fake-provider.js';

const VM = ['ProvisionVm', 'Exec', 'SerialConsole', 'VmType(FullVirt)'];
const host = (memoryMiB: number, vcpus: number, free = { memoryMiB, vcpus }): ProviderCapacity => ({
  total: { memoryMiB, vcpus },
  free,
});
const candidate = (id: string, capacity?: ProviderCapacity, caps = VM): RankingCandidate => ({
  id,
  capabilities: parseNeeds(caps),
  available: true,
  healthy: true,
  capacity,
});

describe('freeShare', () => {
  it('is the scarcer of the free memory share and the free vCPU share, after what was placed', () => {
    expect(freeShare(host(8192, 4), undefined)).toBe(1);
    expect(freeShare(host(8192, 4), { memoryMiB: 1024, vcpus: 2 })).toBe(0.5);
    expect(freeShare(host(8192, 4, { memoryMiB: 2048, vcpus: 4 }), undefined)).toBe(0.25);
    // Oversubscribed CPUs go below zero rather than all looking alike at zero.
    expect(freeShare(host(8192, 2), { memoryMiB: 1024, vcpus: 4 })).toBe(-1);
    expect(freeShare(undefined, undefined)).toBeUndefined();
    expect(freeShare(host(0, 0), undefined)).toBe(0);
  });
});

describe('compareFreeCapacity', () => {
  it('puts the larger free share first, then more free memory, then reporting before silent', () => {
    const big = candidate('big', host(65536, 16));
    const small = candidate('small', host(8192, 2));
    const silent = candidate('silent');
    expect(compareFreeCapacity(big, small)).toBeLessThan(0); // equal shares: more memory first
    expect(compareFreeCapacity(small, big, { big: { memoryMiB: 0, vcpus: 8 } })).toBeLessThan(0);
    expect(compareFreeCapacity(silent, small)).toBeGreaterThan(0);
    expect(compareFreeCapacity(silent, candidate('other'))).toBe(0);
  });
});

describe('rankProviders with capacity', () => {
  it('keeps the single-host order: capacity only ranks providers that are otherwise equal', () => {
    const docker = candidate('docker', host(1024, 1), ['ProvisionVm', 'Exec', 'VmType(Container)']);
    const libvirt = candidate('libvirt', host(65536, 16));
    // Docker has fewer surplus capabilities for Exec: capacity does not override that.
    expect(rankProviders([libvirt, docker], parseNeeds(['Exec'])).ranked.map((c) => c.id)).toEqual([
      'docker',
      'libvirt',
    ]);
  });

  it('spreads machines over equal providers in proportion to their size', () => {
    const candidates = [
      candidate('libvirt', host(8192, 2)),
      candidate('libvirt@big', host(32768, 8)),
    ];
    const ledger = new PlacementLedger();
    const split: Record<string, number> = {};
    for (let i = 0; i < 10; i++) {
      const [best] = rankProviders(candidates, [], undefined, ledger.state()).ranked;
      const id = best?.id ?? 'none';
      split[id] = (split[id] ?? 0) + 1;
      ledger.place(id, demandOf({ vcpus: 1, memoryMiB: 512 }));
    }
    expect(split).toEqual({ libvirt: 2, 'libvirt@big': 8 });
  });

  it('gives a released placement back', () => {
    const candidates = [candidate('a', host(4096, 2)), candidate('b', host(4096, 2))];
    const ledger = new PlacementLedger();
    const release = ledger.place('a', demandOf());
    expect(rankProviders(candidates, [], undefined, ledger.state()).ranked[0]?.id).toBe('b');
    release();
    release();
    expect(ledger.state().placed).toEqual({ a: { memoryMiB: 0, vcpus: 0 } });
    expect(rankProviders(candidates, [], undefined, ledger.state()).ranked[0]?.id).toBe('a');
  });

  it('passes over a provider marked down mid-run, with the reason', () => {
    const ledger = new PlacementLedger();
    ledger.markDown('libvirt@host2', 'cannot connect to qemu+ssh://host2/system');
    const { ranked, mismatches } = rankProviders(
      [candidate('libvirt@host2', host(65536, 16)), candidate('libvirt', host(4096, 2))],
      parseNeeds(['SerialConsole']),
      undefined,
      ledger.state(),
    );
    expect(ranked.map((c) => c.id)).toEqual(['libvirt']);
    expect(mismatches).toEqual([
      {
        providerId: 'libvirt@host2',
        available: false,
        reason: 'marked down during this run: cannot connect to qemu+ssh://host2/system',
        missing: [],
        fix: undefined,
      },
    ]);
  });
});

describe('capacity in discovery', () => {
  it('asks healthy providers for their capacity and ranks equals by it; a failing answer only drops the figure', async () => {
    const withCapacity = (id: string, capacity: ProviderCapacity | 'throw') => ({
      ...fakeProvider({ id, capabilities: VM }),
      capacity: async () => {
        if (capacity === 'throw') throw new Error('no nodeinfo');
        return capacity;
      },
    });
    const registry = new ProviderRegistry()
      .register(withCapacity('libvirt', host(4096, 2, { memoryMiB: 1024, vcpus: 1 })))
      .register(withCapacity('libvirt@host2', host(4096, 2)))
      .register(withCapacity('libvirt@host3', 'throw'));
    const selection = await registry.select(['SerialConsole']);
    expect(selection.ranked).toEqual(['libvirt@host2', 'libvirt', 'libvirt@host3']);
    expect(selection.statuses.map((s) => s.capacity?.free.memoryMiB)).toEqual([
      1024,
      4096,
      undefined,
    ]);
  });
});

describe('capacity parsers', () => {
  it('reads virsh nodeinfo, nodememstats and domstats', () => {
    const nodeinfo =
      'CPU model:           x86_64\nCPU(s):              4\nMemory size:         8000000 KiB\n';
    const memstats =
      'total  :              8388608 KiB\nfree   :              1048576 KiB\nbuffers:                 1024 KiB\ncached :              1047552 KiB\n';
    const domstats =
      "Domain: 'a'\n  vcpu.current=1\n  vcpu.maximum=1\n\nDomain: 'b'\n  vcpu.current=2\n  vcpu.maximum=2\n  vcpu.0.state=1\n";
    expect(parseNodeCapacity(nodeinfo, memstats, domstats)).toEqual({
      total: { memoryMiB: 8192, vcpus: 4 },
      free: { memoryMiB: 2048, vcpus: 1 },
    });
    expect(parseNodeCapacity(nodeinfo, '', '').total.memoryMiB).toBe(7812);
  });

  it('reads docker info', () => {
    expect(engineCapacity({ NCPU: 2, MemTotal: 25325268992 })).toEqual({
      total: { memoryMiB: 24152, vcpus: 2 },
      free: { memoryMiB: 24152, vcpus: 2 },
    });
    expect(engineCapacity({})).toEqual({
      total: { memoryMiB: 0, vcpus: 0 },
      free: { memoryMiB: 0, vcpus: 0 },
    });
  });
});

describe('filePlacementStore', () => {
  it('lets every process of a run see the others’ placements, and gives them back', () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'testbed-placement-'));
    try {
      const dir = placementDir(stateDir, 'run12345');
      const main = new PlacementLedger(filePlacementStore(dir));
      const worker = new PlacementLedger(filePlacementStore(dir));
      const candidates = [
        candidate('docker', host(4096, 2)),
        candidate('docker@host2', host(4096, 2)),
      ];
      expect(main.state().placed).toEqual({});
      const release = worker.place('docker', demandOf({ memoryMiB: 1024 }));
      worker.place('docker@host2', demandOf());
      worker.place('docker', demandOf());
      expect(main.state().placed).toEqual({
        docker: { memoryMiB: 1280, vcpus: 2 },
        'docker@host2': { memoryMiB: 256, vcpus: 1 },
      });
      expect(rankProviders(candidates, [], undefined, main.state()).ranked[0]?.id).toBe(
        'docker@host2',
      );
      release();
      expect(main.state().placed?.docker).toEqual({ memoryMiB: 256, vcpus: 1 });
      removePlacements(stateDir, 'run12345');
      expect(existsSync(dir)).toBe(false);
      expect(main.state().placed).toEqual({});
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('tells every process of the run about a provider one of them found down', () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'testbed-placement-'));
    try {
      const dir = placementDir(stateDir, 'run12345');
      const finder = new PlacementLedger(filePlacementStore(dir));
      const other = new PlacementLedger(filePlacementStore(dir));
      const release = other.place('libvirt@host2', demandOf());
      finder.markDown('libvirt@host2', 'Host libvirt@host2 cannot be reached');
      expect(other.state().down).toEqual({
        'libvirt@host2': 'Host libvirt@host2 cannot be reached',
      });
      // A down marker is not a placement.
      expect(other.state().placed).toEqual({ 'libvirt@host2': { memoryMiB: 256, vcpus: 1 } });
      const candidates = [
        candidate('libvirt@host2', host(8192, 4)),
        candidate('libvirt', host(4096, 2)),
      ];
      expect(
        rankProviders(candidates, [], undefined, other.state()).ranked.map((c) => c.id),
      ).toEqual(['libvirt']);
      release();
      removePlacements(stateDir, 'run12345');
      expect(other.state().down).toEqual({});
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('counts nothing rather than failing when the directory cannot be written', () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'testbed-placement-'));
    try {
      // A file where the directory should be: mkdir fails with ENOTDIR.
      writeFileSync(join(stateDir, 'file'), '');
      const ledger = new PlacementLedger(filePlacementStore(join(stateDir, 'file', 'run')));
      const release = ledger.place('docker', demandOf());
      expect(ledger.state().placed).toEqual({});
      release();
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
