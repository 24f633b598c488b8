import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { ConfigError } from '../../src/core/errors.js';
import { parseHostEntry } from '../../src/core/hosts.js';
import { parseTestbedOptions } from '../../src/harness/testbed-options.js';

const entry = (text: string) => {
  const result = parseHostEntry(text);
  if (!result.ok) throw new Error(result.message);
  return result.entry;
};

describe('parseHostEntry', () => {
  it('names a remote libvirt host after its URI, with a provider id of its own', () => {
    expect(entry('libvirt:qemu+ssh://ci@host2/system')).toEqual({
      name: 'host2',
      backend: 'libvirt',
      uri: 'qemu+ssh://ci@host2/system',
      transport: 'ssh',
      remote: true,
      providerId: 'libvirt@host2',
    });
  });

  it('takes a name= prefix over the URI host, lowercased', () => {
    expect(entry('Rack7=libvirt:qemu+tls://10.0.0.7/system')).toMatchObject({
      name: 'rack7',
      transport: 'tls',
      providerId: 'libvirt@rack7',
    });
  });

  it('maps a local entry without a name to the local provider id', () => {
    expect(entry('libvirt:qemu:///system')).toMatchObject({
      name: 'local',
      remote: false,
      transport: 'local',
      providerId: 'libvirt',
    });
    expect(entry('docker:unix:///var/run/docker.sock')).toMatchObject({
      name: 'local',
      providerId: 'docker',
    });
    expect(entry('lab=libvirt:qemu:///session').providerId).toBe('libvirt@lab');
  });

  it('reads Docker endpoints over tcp and ssh', () => {
    expect(entry('docker:tcp://10.0.0.2:2375')).toMatchObject({
      name: '10.0.0.2',
      transport: 'tcp',
      remote: true,
      providerId: 'docker@10.0.0.2',
    });
    expect(entry('docker:ssh://ci@build-3.example.org')).toMatchObject({
      providerId: 'docker@build-3.example.org',
      transport: 'ssh',
    });
    expect(entry('docker:tcp://[fd00::2]:2376').providerId).toBe('docker@fd00--2');
  });

  it.each([
    ['kvm:qemu:///system', /'kvm' is not a backend.*start the entry with libvirt: or docker:/],
    ['dockr:tcp://h:2375', /did you mean 'docker'\?/],
    ['libvirt:', /no URI after 'libvirt:'/],
    ['libvirt:xen:///system', /'xen' is not a QEMU driver URI/],
    ['libvirt:qemu+ssh://host2/', /names neither \/system nor \/session/],
    ['libvirt:qemu+ssh:///system', /names no host: add user@host/],
    ['docker:npipe:////./pipe/docker', /not a Docker endpoint/],
    ['docker:unix://var/run/docker.sock', /absolute socket path/],
    ['docker:tcp://10.0.0.2', /names no port/],
    ['Bad_Name=docker:tcp://h:1', /host name 'bad_name' must be/],
  ])('rejects %s with what to write instead', (text, message) => {
    const result = parseHostEntry(text);
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.message).toMatch(message);
  });
});

describe('TESTBED_HOSTS', () => {
  it('splits on commas and whitespace', () => {
    const config = loadConfig(
      {
        HOME: '/h',
        TESTBED_HOSTS:
          'libvirt:qemu:///system,\n host2=libvirt:qemu+ssh://ci@10.0.0.2/system docker:tcp://10.0.0.2:2375',
      },
      1000,
    );
    expect(config.hosts?.map((h) => h.providerId)).toEqual([
      'libvirt',
      'libvirt@host2',
      'docker@10.0.0.2',
    ]);
  });

  it('is undefined when unset, so only the local providers are used', () => {
    expect(loadConfig({ HOME: '/h' }, 1000).hosts).toBeUndefined();
  });

  it('reports every bad entry and duplicate at once, each by its index', () => {
    let error: unknown;
    try {
      loadConfig(
        {
          HOME: '/h',
          TESTBED_HOSTS: [
            'libvirt:qemu+ssh://ci@host2/system',
            'libvrt:qemu:///system',
            'docker:tcp://host2',
            'libvirt:qemu+ssh://ci@host2/system',
            'libvirt:qemu+tcp://host2/system',
          ].join(','),
          TESTBED_SSH_PORT: 'x',
        },
        1000,
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const config = error as ConfigError;
    expect(config.code).toBe('TESTBED_INVALID_CONFIG');
    expect(config.problems).toEqual([
      { path: 'TESTBED_SSH_PORT', message: 'must be a TCP port, a whole number (got "x")' },
      {
        path: 'TESTBED_HOSTS[1]',
        message: expect.stringMatching(
          /^'libvrt' is not a backend \(did you mean 'libvirt'\?\): .*\(got "libvrt:qemu:\/\/\/system"\)$/,
        ),
      },
      { path: 'TESTBED_HOSTS[2]', message: expect.stringContaining("'tcp://host2' names no port") },
      {
        path: 'TESTBED_HOSTS[3]',
        message: 'libvirt:qemu+ssh://ci@host2/system is listed twice (also entry 0); drop one',
      },
      {
        path: 'TESTBED_HOSTS[4]',
        message:
          'provider id libvirt@host2 is taken by entry 0; give this one another name: other=libvirt:qemu+tcp://host2/system',
      },
    ]);
    expect(config.message).toContain('5 problems');
  });

  it('names an empty list', () => {
    expect(() => loadConfig({ HOME: '/h', TESTBED_HOSTS: ' , ' }, 1000)).toThrow(
      /TESTBED_HOSTS: must list at least one host/,
    );
  });

  it('accepts provider ids with @host in TESTBED_PROVIDERS', () => {
    expect(
      loadConfig({ HOME: '/h', TESTBED_PROVIDERS: 'libvirt@host2,docker' }, 1000).providers,
    ).toEqual(['libvirt@host2', 'docker']);
  });
});

describe('the hosts option', () => {
  it('parses like TESTBED_HOSTS and names bad entries by index', () => {
    expect(
      parseTestbedOptions({ hosts: ['host2=docker:ssh://ci@10.0.0.2'] }).hosts?.[0]?.providerId,
    ).toBe('docker@host2');
    expect(parseTestbedOptions({}).hosts).toBeUndefined();
    expect(() => parseTestbedOptions({ hosts: ['docker:tcp://h', 'x:y'] })).toThrow(
      /hosts\[0\]: 'tcp:\/\/h' names no port.*\n.*hosts\[1\]: 'x' is not a backend/,
    );
  });
});
