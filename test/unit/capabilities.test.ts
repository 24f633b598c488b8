import { describe, expect, it } from 'vitest';
import {
  CAPABILITY_NAMES,
  capabilitySchema,
  formatCapability,
  missingCapabilities,
  parseCapability,
  parseNeeds,
  type VmCapability,
} from '../../src/core/capabilities.js';
import { InvalidCapabilityError, isTestbedError } from '../../src/core/errors.js';

const every: VmCapability[] = [
  { kind: 'ProvisionVm' },
  { kind: 'CloneVm' },
  { kind: 'SerialConsole' },
  { kind: 'HealthMonitoring' },
  { kind: 'NetworkOverlay' },
  { kind: 'DiskOverlay' },
  { kind: 'SshAccess' },
  { kind: 'Exec' },
  { kind: 'Snapshot' },
  { kind: 'WarmSnapshot' },
  { kind: 'PauseResume' },
  { kind: 'NetworkFaults' },
  { kind: 'PowerControl' },
  { kind: 'VmType', type: 'FullVirt' },
  { kind: 'VmType', type: 'Container' },
  { kind: 'Custom', name: 'gpu' },
  { kind: 'Custom', name: 'arch/arm64' },
];

describe('parseCapability', () => {
  it.each(every)('round-trips $kind through its string form', (cap) => {
    expect(parseCapability(formatCapability(cap))).toEqual(cap);
  });

  it.each(every)('accepts the object form of $kind', (cap) => {
    expect(parseCapability({ ...cap })).toEqual(cap);
  });

  it('parses the string forms users write', () => {
    expect(parseCapability('SerialConsole')).toEqual({ kind: 'SerialConsole' });
    expect(parseCapability('VmType(FullVirt)')).toEqual({ kind: 'VmType', type: 'FullVirt' });
    expect(parseCapability(' VmType( Container ) ')).toEqual({ kind: 'VmType', type: 'Container' });
    expect(parseCapability('Custom(gpu)')).toEqual({ kind: 'Custom', name: 'gpu' });
  });

  it('suggests the nearest name for a typo and lists the valid ones', () => {
    let error: unknown;
    try {
      parseCapability('SerialConsol');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidCapabilityError);
    expect(isTestbedError(error, 'TESTBED_INVALID_CAPABILITY')).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain('"SerialConsol"');
    expect(message).toContain("Did you mean 'SerialConsole'?");
    for (const name of CAPABILITY_NAMES) expect(message).toContain(name);
  });

  it('suggests a VmType for a misspelled type', () => {
    expect(() => parseCapability('VmType(FulVirt)')).toThrow(/Did you mean 'VmType\(FullVirt\)'/);
  });

  it('does not suggest anything for an unrelated word', () => {
    expect(() => parseCapability('Banana')).toThrow(/not a capability name\.\n/);
  });

  it.each([
    ['', /not a capability name/],
    ['Custom()', /Custom name/],
    ['Custom(a b)', /Custom name/],
    ['Frobnicate(x)', /not a capability form/],
    [42, /expected a string/],
    [null, /expected a string/],
    [{ kind: 'VmType', type: 'Cloud' }, /VmType takes one of FullVirt, Container/],
  ])('rejects %j', (input, pattern) => {
    expect(() => parseCapability(input)).toThrow(pattern);
  });
});

describe('parseNeeds', () => {
  it('reports every bad entry at once, with its index', () => {
    expect(() => parseNeeds(['SerialConsole', 'Clonevm', 'SshAces'])).toThrow(
      /needs\[1\].*CloneVm[\s\S]*needs\[2\].*SshAccess/,
    );
  });

  it('parses a valid list in order', () => {
    expect(parseNeeds(['Exec', 'VmType(Container)'])).toEqual([
      { kind: 'Exec' },
      { kind: 'VmType', type: 'Container' },
    ]);
  });
});

describe('capabilitySchema', () => {
  it('outputs parsed capabilities and turns errors into zod issues', () => {
    expect(capabilitySchema.parse('Snapshot')).toEqual({ kind: 'Snapshot' });
    const result = capabilitySchema.safeParse('Snapshop');
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toContain("Did you mean 'Snapshot'?");
  });
});

describe('missingCapabilities', () => {
  it('returns needs not offered, in order', () => {
    const offered = parseNeeds(['Exec', 'VmType(Container)']);
    const needs = parseNeeds(['SerialConsole', 'Exec', 'VmType(FullVirt)']);
    expect(missingCapabilities(offered, needs).map(formatCapability)).toEqual([
      'SerialConsole',
      'VmType(FullVirt)',
    ]);
  });
});
