import { describe, expect, it } from 'vitest';
import { InvalidSpecError } from '../../src/core/errors.js';
import type { MachineNetwork } from '../../src/core/provider.js';
import { parseDockerSpec } from '../../src/providers/docker/spec.js';
import { Wait } from '../../src/wait/wait.js';

const network = (providerId: string): MachineNetwork => ({
  name: 'n',
  providerId,
  destroy: async () => {},
  [Symbol.asyncDispose]: async () => {},
});

function problems(spec: Record<string, unknown>): { path: string; message: string }[] {
  try {
    parseDockerSpec(spec);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidSpecError);
    return [...(error as InvalidSpecError).problems];
  }
  throw new Error('expected the spec to be rejected');
}

describe('parseDockerSpec', () => {
  it('accepts an empty spec and a full one', () => {
    expect(parseDockerSpec(undefined)).toEqual({});
    const signal = new AbortController().signal;
    const spec = {
      image: 'testbed/tiny:abc',
      name: 'web-1',
      memoryMiB: 64,
      vcpus: 0.5,
      hostname: 'web',
      networks: [network('docker')],
      timeoutMs: 10_000,
      signal,
      ports: [80, { guest: 8080, host: 18080 }],
      files: [{ content: 'x', target: '/etc/x', mode: 0o600 }],
      waitFor: [Wait.forPort(80)],
      env: { MODE: 'test' },
      command: ['sh', '-c', 'echo ready; sleep 1000'],
      entrypoint: ['/bin/sh'],
      readyLog: /ready/,
      aliases: ['api'],
    };
    expect(parseDockerSpec(spec)).toEqual({
      ...spec,
      networks: [{ network: spec.networks[0], aliases: [] }],
      ports: [{ guest: 80 }, { guest: 8080, host: 18080 }],
    });
    expect(parseDockerSpec({ waitFor: Wait.forPort(80) }).waitFor).toHaveLength(1);
  });

  it('reports every problem at once, each at its path', () => {
    const found = problems({
      memoryMiB: -1,
      vcpus: 0,
      ports: [80, 70_000],
      name: 'bad name!',
      env: { 'NOT VALID': 'x' },
      command: [],
      files: [{ content: 'x', target: 'relative' }],
      waitFor: 'soon',
    });
    const paths = found.map((p) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining(['memoryMiB', 'vcpus', 'ports[1]', 'name', 'command', 'waitFor']),
    );
    expect(paths.some((p) => p.startsWith('env'))).toBe(true);
    expect(paths.some((p) => p.startsWith('files[0]'))).toBe(true);
    expect(found.length).toBeGreaterThanOrEqual(8);
  });

  it('names unknown options with a typo hint', () => {
    const [problem] = problems({ prots: [80] });
    expect(problem).toEqual({
      path: 'prots',
      message: expect.stringContaining("did you mean 'ports'?"),
    });
  });

  it('takes a network with a static address and aliases, and hosts lines', () => {
    const lan = network('docker');
    const parsed = parseDockerSpec({
      networks: [{ network: lan, address: '10.213.7.11/24', aliases: ['db'] }],
      hosts: { app: '10.213.7.12' },
    });
    expect(parsed.networks).toEqual([{ network: lan, address: '10.213.7.11', aliases: ['db'] }]);
    expect(parsed.hosts).toEqual({ app: '10.213.7.12' });
    const found = problems({
      networks: [{ network: lan, address: '10.213.7.300/24' }],
      hosts: { app: 'nowhere' },
    });
    const text = found.map((p) => `${p.path}: ${p.message}`).join('\n');
    expect(text).toMatch(/networks\[0\].*IPv4 address with a prefix length/);
    expect(text).toMatch(/hosts.*must be an IPv4 address/);
  });

  it('rejects networks of another provider or that are not networks', () => {
    const found = problems({ networks: [network('libvirt'), { name: 'x' }] });
    expect(found).toEqual([
      { path: 'networks[0]', message: expect.stringContaining("provider 'libvirt'") },
      { path: 'networks[1]', message: expect.stringContaining('createNetwork()') },
    ]);
  });

  it('puts the fix in the message', () => {
    expect(() => parseDockerSpec({ memoryMiB: 1 })).toThrow(/Fix: .*accepts image, name/);
  });
});
