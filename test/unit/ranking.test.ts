import { describe, expect, it } from 'vitest';
import { parseNeeds } from '../../src/core/capabilities.js';
import { type RankingCandidate, rankProviders } from '../../src/core/ranking.js';

const candidate = (id: string, caps: string[], extra: Partial<RankingCandidate> = {}) => ({
  id,
  capabilities: parseNeeds(caps),
  available: true,
  healthy: true,
  ...extra,
});

describe('rankProviders', () => {
  const big = candidate('big', ['Exec', 'SerialConsole', 'CloneVm']);
  const small = candidate('small', ['Exec']);

  it('prefers the fewest surplus capabilities', () => {
    expect(rankProviders([big, small], parseNeeds(['Exec'])).ranked.map((c) => c.id)).toEqual([
      'small',
      'big',
    ]);
  });

  it('lets the preference order win over surplus', () => {
    const { ranked } = rankProviders([big, small], parseNeeds(['Exec']), ['big', 'small']);
    expect(ranked.map((c) => c.id)).toEqual(['big', 'small']);
  });

  it('puts checked-healthy before unchecked', () => {
    const unchecked = candidate('unchecked', ['Exec'], { healthy: undefined });
    const checked = candidate('checked', ['Exec', 'CloneVm']);
    expect(rankProviders([unchecked, checked], []).ranked.map((c) => c.id)).toEqual([
      'checked',
      'unchecked',
    ]);
  });

  it('ties the hosts of one backend on capabilities, so capacity spreads them; a need only one offers keeps it', () => {
    const capacity = (free: number) => ({
      total: { memoryMiB: 4096, vcpus: 4 },
      free: { memoryMiB: 4096, vcpus: free },
    });
    const docker = candidate('docker', ['Exec']);
    const local = candidate('libvirt', ['Exec', 'SshAccess', 'CloneVm'], { capacity: capacity(1) });
    const remote = candidate('libvirt@host2', ['Exec', 'SshAccess'], { capacity: capacity(4) });
    const needs = parseNeeds(['SshAccess']);
    expect(rankProviders([docker, local, remote], needs).ranked.map((c) => c.id)).toEqual([
      'libvirt@host2',
      'libvirt',
    ]);
    // Once this run placed three vCPUs there, the shares tie and the local host has more memory free.
    const placed = { 'libvirt@host2': { memoryMiB: 768, vcpus: 3 } };
    expect(rankProviders([local, remote], needs, undefined, { placed }).ranked[0]?.id).toBe(
      'libvirt',
    );
    // Fewer capabilities still win across backends, and only the local host can clone.
    expect(rankProviders([local, remote, docker], parseNeeds(['Exec'])).ranked[0]?.id).toBe(
      'docker',
    );
    expect(rankProviders([remote, local], parseNeeds(['CloneVm'])).ranked.map((c) => c.id)).toEqual(
      ['libvirt'],
    );
  });

  it('keeps registration order among equals', () => {
    const a = candidate('a', ['Exec']);
    const b = candidate('b', ['Exec']);
    expect(rankProviders([b, a], []).ranked.map((c) => c.id)).toEqual(['b', 'a']);
  });

  it('passes over unavailable, unhealthy and lacking providers with their reasons', () => {
    const off = candidate('off', ['Exec'], {
      available: false,
      reason: 'no socket',
      fix: 'start it',
    });
    const sick = candidate('sick', ['Exec'], { healthy: false, reason: 'disk full' });
    const { ranked, mismatches } = rankProviders([off, sick, small], parseNeeds(['CloneVm']));
    expect(ranked).toEqual([]);
    expect(mismatches).toEqual([
      {
        providerId: 'off',
        available: false,
        reason: 'no socket',
        missing: ['CloneVm'],
        fix: 'start it',
      },
      {
        providerId: 'sick',
        available: true,
        reason: 'disk full',
        missing: ['CloneVm'],
        fix: undefined,
      },
      {
        providerId: 'small',
        available: true,
        reason: undefined,
        missing: ['CloneVm'],
        fix: undefined,
      },
    ]);
  });
});
