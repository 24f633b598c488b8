import { describe, expect, it } from 'vitest';
import { InvalidSpecError } from '../../src/core/errors.js';
import { parseVmSpec } from '../../src/providers/libvirt/vm-spec.js';

function problemsOf(spec: Record<string, unknown>): string[] {
  try {
    parseVmSpec(spec);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidSpecError);
    return (error as InvalidSpecError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  throw new Error('expected the spec to be rejected');
}

describe('parseVmSpec', () => {
  it('fills in defaults', () => {
    expect(parseVmSpec({})).toMatchObject({
      image: 'tiny-vm',
      memoryMiB: 256,
      vcpus: 1,
      networks: [],
      sshUser: 'root',
      timeoutMs: 180_000,
    });
  });

  it('reports every problem at once, each with its path', () => {
    const problems = problemsOf({ memoryMiB: -1, vcpus: 0, image: '', timeoutMs: 'soon' });
    expect(problems).toHaveLength(4);
    expect(problems.join('\n')).toMatch(/memoryMiB: must be at least 64 MiB/);
    expect(problems.join('\n')).toMatch(/vcpus: must be at least 1/);
    expect(problems.join('\n')).toMatch(/image: /);
    expect(problems.join('\n')).toMatch(/timeoutMs: must be milliseconds/);
  });

  it('rejects a hostile name rather than passing it into XML or a path', () => {
    const problems = problemsOf({ name: "a'/><evil/>" });
    expect(problems).toEqual([expect.stringMatching(/^name: must be 1-32 lowercase letters/)]);
  });

  it('rejects fractional memory, unknown options and foreign networks', () => {
    const problems = problemsOf({
      memoryMiB: 100.5,
      memroy: 1,
      networks: [{ name: 'n', providerId: 'docker' }],
    });
    expect(problems.join('\n')).toMatch(/memoryMiB: must be a whole number/);
    expect(problems.join('\n')).toMatch(/unknown option\(s\) memroy/);
    expect(problems.join('\n')).toMatch(/networks\.0: must be networks made by the libvirt/);
  });

  it('accepts libvirt networks, a RegExp or null readiness pattern and an AbortSignal', () => {
    const network = { name: 'testbed-x', providerId: 'libvirt' };
    const signal = new AbortController().signal;
    const parsed = parseVmSpec({ networks: [network] as never, readyPattern: /ok/, signal });
    expect(parsed.networks).toEqual([network]);
    expect(parseVmSpec({ readyPattern: null }).readyPattern).toBeNull();
    expect(parsed.signal).toBe(signal);
  });
});
