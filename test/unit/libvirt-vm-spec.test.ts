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
      timeoutMs: 180_000,
    });
    // Left to the image's metadata (root for tiny-vm, debian for debian-12).
    expect(parseVmSpec({}).sshUser).toBeUndefined();
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
    expect(problems.join('\n')).toMatch(/unknown option\(s\) memroy$/m);
    expect(problems.join('\n')).toMatch(/networks\.0: must be networks made by the libvirt/);
  });

  it('accepts libvirt networks, a RegExp or null readiness pattern and an AbortSignal', () => {
    const network = { name: 'testbed-x', providerId: 'libvirt' };
    const signal = new AbortController().signal;
    const parsed = parseVmSpec({ networks: [network] as never, readyPattern: /ok/, signal });
    expect(parsed.networks).toEqual([{ network }]);
    const attached = parseVmSpec({
      networks: [{ network, address: '10.213.7.11/24' }] as never,
      hosts: { db: '10.213.7.12' },
    });
    expect(attached.networks).toEqual([{ network, address: '10.213.7.11/24' }]);
    expect(attached.hosts).toEqual({ db: '10.213.7.12' });
    expect(() => parseVmSpec({ networks: [{ network, address: '10.213.7.11' }] as never })).toThrow(
      /prefix length/,
    );
    expect(parseVmSpec({ readyPattern: null }).readyPattern).toBeNull();
    expect(parsed.signal).toBe(signal);
  });

  it('normalises ports and rejects out-of-range and twice-asked ones, all at once', () => {
    expect(parseVmSpec({ ports: [8080, { guest: 5432, host: 15432 }] }).ports).toEqual([
      { guest: 8080 },
      { guest: 5432, host: 15432 },
    ]);
    const problems = problemsOf({ ports: [0, 70000, 8080, { guest: 8080 }, 'web'] });
    expect(problems.join('\n')).toMatch(/ports\.0: must be a TCP port \(1-65535\)/);
    expect(problems.join('\n')).toMatch(/ports\.1: must be a TCP port/);
    expect(problems.join('\n')).toMatch(/ports\.4: must be a port number or \{ guest, host\? \}/);
  });

  it('suggests the option a typo meant (memoryMib -> memoryMiB)', () => {
    expect(problemsOf({ memoryMib: 512 })).toEqual([
      "(spec): unknown option(s) memoryMib (did you mean 'memoryMiB'?)",
    ]);
  });

  it('reports a guest port asked twice', () => {
    expect(problemsOf({ ports: [8080, { guest: 8080 }] })).toEqual([
      'ports.1: guest port 8080 is asked twice; list each port once',
    ]);
  });

  it('checks files and waitFor entries', () => {
    const problems = problemsOf({
      files: [{ source: '/etc/hosts', target: 'relative/path' }, { target: '/x' }],
      waitFor: [{ check: 1 }],
    });
    expect(problems.join('\n')).toMatch(/files\.0/);
    expect(problems.join('\n')).toMatch(
      /files\.1: must be \{ source, target, mode\? \} or \{ content, target, mode\? \}/,
    );
    expect(problems.join('\n')).toMatch(/waitFor/);
  });

  it('takes a disk size and refuses a command line without a kernel', () => {
    expect(parseVmSpec({ diskGiB: 4 }).diskGiB).toBe(4);
    expect(parseVmSpec({}).outbound).toBe(false);
    expect(problemsOf({ diskGiB: 0.5 })).toEqual([
      'diskGiB: must be a whole number of GiB (got 0.5)',
    ]);
    expect(problemsOf({ cmdline: 'console=ttyS0' }).join('\n')).toMatch(
      /^cmdline: only applies with kernel/,
    );
    expect(parseVmSpec({ kernel: '/k', cmdline: 'console=ttyS0' }).cmdline).toBe('console=ttyS0');
  });
});
