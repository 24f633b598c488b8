import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { ConfigError } from '../../src/core/errors.js';

describe('loadConfig', () => {
  it('has defaults for everything', () => {
    const inGroupLibvirt = () => ({ groups: ['ada', 'libvirt'], systemSocket: 'open' as const });
    const config = loadConfig({ HOME: '/home/ada' }, 1000, inGroupLibvirt);
    expect(config).toEqual({
      libvirtUri: 'qemu:///system',
      sshPort: 22,
      baseImagePath: '/home/ada/.cache/testbed/images',
      stateDir: '/home/ada/.cache/testbed/runs',
      providers: undefined,
      timeoutMs: 5000,
      maxBoots: undefined,
      warm: true,
      templateDir: '/home/ada/.cache/testbed/templates',
      templateMaxMiB: 8192,
      templateMaxAgeDays: 14,
      standby: undefined,
    });
  });

  it("gives a user the system daemon does not let in libvirt's per-user daemon", () => {
    const outsider = () => ({ groups: ['bob'], systemSocket: 'denied' as const });
    expect(loadConfig({ HOME: '/home/bob' }, 1001, outsider).libvirtUri).toBe('qemu:///session');
    expect(
      loadConfig({ HOME: '/home/bob', LIBVIRT_DEFAULT_URI: 'qemu:///system' }, 1001, outsider)
        .libvirtUri,
    ).toBe('qemu:///system');
    expect(
      loadConfig({ HOME: '/home/bob', TESTBED_LIBVIRT_URI: 'qemu:///system' }, 1001, outsider)
        .libvirtUri,
    ).toBe('qemu:///system');
    // Root never asks: the system daemon is root's.
    expect(loadConfig({ HOME: '/root' }, 0, outsider).libvirtUri).toBe('qemu:///system');
  });

  it('honours XDG_CACHE_HOME for a user', () => {
    const config = loadConfig({ HOME: '/home/ada', XDG_CACHE_HOME: '/srv/cache/ada' }, 1000);
    expect(config.stateDir).toBe('/srv/cache/ada/testbed/runs');
    expect(config.baseImagePath).toBe('/srv/cache/ada/testbed/images');
  });

  it('keeps root out of /root, which the qemu user cannot enter', () => {
    const config = loadConfig({ HOME: '/root' }, 0);
    expect(config.baseImagePath).toBe('/var/cache/testbed/images');
    expect(config.stateDir).toBe('/var/cache/testbed/runs');
  });

  it('reads TESTBED_ variables', () => {
    const config = loadConfig(
      {
        TESTBED_LIBVIRT_URI: 'qemu:///session',
        TESTBED_SSH_PORT: '2222',
        TESTBED_BASE_IMAGE_PATH: '/srv/images',
        TESTBED_STATE_DIR: '/srv/runs',
        TESTBED_PROVIDERS: 'docker, libvirt',
        TESTBED_TIMEOUT_MS: '1500',
        TESTBED_WARM: '0',
        TESTBED_TEMPLATE_DIR: '/srv/templates',
        TESTBED_TEMPLATE_MAX_MIB: '2048',
        TESTBED_TEMPLATE_MAX_AGE_DAYS: '3',
        TESTBED_STANDBY: '0',
      },
      1000,
    );
    expect(config).toEqual({
      libvirtUri: 'qemu:///session',
      sshPort: 2222,
      baseImagePath: '/srv/images',
      stateDir: '/srv/runs',
      providers: ['docker', 'libvirt'],
      timeoutMs: 1500,
      warm: false,
      templateDir: '/srv/templates',
      templateMaxMiB: 2048,
      templateMaxAgeDays: 3,
      standby: 0,
    });
    expect(() => loadConfig({ TESTBED_STANDBY: '-1' }, 1000)).toThrow(
      /TESTBED_STANDBY: must be a number of machines, a whole number \(got "-1"\)/,
    );
    expect(() => loadConfig({ TESTBED_TEMPLATE_MAX_MIB: '8G' }, 1000)).toThrow(
      /TESTBED_TEMPLATE_MAX_MIB: must be a size in MiB, a whole number \(got "8G"\)/,
    );
  });

  it('reads TESTBED_WARM as a switch and names a bad value', () => {
    expect(loadConfig({ TESTBED_WARM: 'true' }, 1000).warm).toBe(true);
    expect(loadConfig({ TESTBED_WARM: 'False' }, 1000).warm).toBe(false);
    expect(() => loadConfig({ TESTBED_WARM: 'no' }, 1000)).toThrow(
      /TESTBED_WARM: must be 1\/true \(warm starts\) or 0\/false \(boot cold\) \(got "no"\)/,
    );
  });

  it('accepts the BENCHSCALE_ aliases, and a TESTBED_ value wins', () => {
    const config = loadConfig(
      {
        BENCHSCALE_LIBVIRT_URI: 'qemu+ssh://host/system',
        BENCHSCALE_SSH_PORT: '2200',
        BENCHSCALE_BASE_IMAGE_PATH: '/var/lib/libvirt/images',
        TESTBED_SSH_PORT: '22',
      },
      1000,
    );
    expect(config.libvirtUri).toBe('qemu+ssh://host/system');
    expect(config.baseImagePath).toBe('/var/lib/libvirt/images');
    expect(config.sshPort).toBe(22);
  });

  it('rejects BENCHSCALE_SSH_PORT=abc by name instead of returning NaN', () => {
    expect(() => loadConfig({ BENCHSCALE_SSH_PORT: 'abc' }, 1000)).toThrow(
      /BENCHSCALE_SSH_PORT: must be a TCP port, a whole number \(got "abc"\)/,
    );
  });

  it('reports every bad variable together', () => {
    let error: unknown;
    try {
      loadConfig(
        {
          TESTBED_SSH_PORT: '70000',
          TESTBED_TIMEOUT_MS: '-1',
          TESTBED_LIBVIRT_URI: 'not a uri',
          TESTBED_PROVIDERS: ' , ',
        },
        1000,
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.map((p) => p.path);
    expect(problems).toEqual([
      'TESTBED_LIBVIRT_URI',
      'TESTBED_SSH_PORT',
      'TESTBED_PROVIDERS',
      'TESTBED_TIMEOUT_MS',
    ]);
    expect((error as ConfigError).code).toBe('TESTBED_INVALID_CONFIG');
    expect((error as Error).message).toContain('4 problems');
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ TESTBED_SSH_PORT: '', HOME: '/h' }, 1000).sshPort).toBe(22);
  });

  it('refuses state and image directories on kernel pseudo-filesystems up front', () => {
    let error: unknown;
    try {
      loadConfig(
        { HOME: '/h', TESTBED_STATE_DIR: '/proc/self/x', TESTBED_BASE_IMAGE_PATH: '/sys/x' },
        1000,
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(
      /TESTBED_STATE_DIR: is on a kernel pseudo-filesystem .*\(got "\/proc\/self\/x"\)/,
    );
    expect(message).toMatch(/TESTBED_BASE_IMAGE_PATH: is on a kernel pseudo-filesystem/);
    expect(message).not.toMatch(/libvirt/);
    expect(loadConfig({ HOME: '/h', TESTBED_STATE_DIR: '/procedures/x' }, 1000).stateDir).toBe(
      '/procedures/x',
    );
  });
});
