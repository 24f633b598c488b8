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
