import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DoctorReport } from '../../src/cli/doctor-report.js';

const bin = fileURLToPath(new URL('../../bin/testbed.js', import.meta.url));

function testbed(args: string[], env: Record<string, string>) {
  return execa(process.execPath, [bin, ...args], { reject: false, env, timeout: 120_000 });
}

// A libvirt host and a Docker engine over SSH where nothing listens (loopback: no traffic leaves
// this machine), and a Docker engine over tcp:// that testbed does not drive, never contacted.
const HOSTS = [
  'libvirt:qemu:///system',
  'host2=libvirt:qemu+ssh://ci@127.0.0.1:2222/system',
  'host2=docker:ssh://ci@127.0.0.1:2222',
  'host3=docker:tcp://127.0.0.1:2375',
].join(' ');

describe('testbed doctor with TESTBED_HOSTS (real libvirtd and Docker engine)', () => {
  beforeAll(() => {
    if (!existsSync(fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url)))) {
      throw new Error('bin/testbed.js runs dist/: run `npm run build` first.');
    }
  });

  it('lists each host with its providers and capacity; an unreachable host and one not drivable yet say why, without delaying the others', async () => {
    const started = Date.now();
    const result = await testbed(['doctor', '--json'], {
      TESTBED_LIBVIRT_URI: 'qemu:///system',
      TESTBED_HOSTS: HOSTS,
    });
    expect(result.exitCode, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as DoctorReport;
    expect(report.hosts).toEqual([
      { name: 'local', uris: [], providers: ['libvirt', 'docker'] },
      {
        name: 'host2',
        uris: ['qemu+ssh://ci@127.0.0.1:2222/system', 'ssh://ci@127.0.0.1:2222'],
        providers: ['libvirt@host2', 'docker@host2'],
      },
      { name: 'host3', uris: ['tcp://127.0.0.1:2375'], providers: ['docker@host3'] },
    ]);
    const byId = new Map(report.providers.map((p) => [p.id, p]));
    for (const id of ['libvirt', 'docker']) {
      const capacity = byId.get(id)?.capacity;
      expect(capacity?.total.memoryMiB, id).toBeGreaterThan(0);
      expect(capacity?.total.vcpus, id).toBeGreaterThan(0);
    }
    // Unreachable: named with the URI, why (nothing listens) and the fix, within the timeout.
    expect(byId.get('libvirt@host2')).toMatchObject({
      available: true,
      health: { healthy: false },
    });
    expect(byId.get('libvirt@host2')?.health?.warnings?.[0]).toMatch(
      /^Host libvirt@host2 \(qemu\+ssh:\/\/ci@127\.0\.0\.1:2222\/system\) cannot be reached: .*Connection refused.* Fix: Check that libvirtd runs on that host/,
    );
    expect(byId.get('libvirt@host2')?.durationMs).toBeLessThan(5_000);
    expect(byId.get('docker@host2')).toMatchObject({ available: true, health: { healthy: false } });
    expect(byId.get('docker@host2')?.health?.warnings?.[0]).toMatch(
      /^Host docker@host2 \(ssh:\/\/ci@127\.0\.0\.1:2222\) cannot be reached: (.*(refused|ECONNREFUSED)|no SSH key to log in to 127\.0\.0\.1 with).* Fix: /,
    );
    expect(byId.get('docker@host2')?.durationMs).toBeLessThan(5_000);
    expect(byId.get('docker@host3')?.reason).toMatch(/does not run over SSH/);
    expect(report.selected).toBe('docker');
    // Pending hosts answer at once: discovery takes what the local providers take.
    expect(Date.now() - started).toBeLessThan(30_000);
    const text = await testbed(['doctor'], {
      TESTBED_LIBVIRT_URI: 'qemu:///system',
      TESTBED_HOSTS: HOSTS,
    });
    expect(text.stdout).toMatch(
      /Hosts:\n {2}local\n {4}✓ libvirt: memory \d+\/\d+ MiB free, vCPUs -?\d+\/\d+ free/,
    );
    expect(text.stdout).toContain(
      '  host2 (qemu+ssh://ci@127.0.0.1:2222/system, ssh://ci@127.0.0.1:2222)',
    );
  });

  it('reports every bad entry at once, by index, and exits with a config error', async () => {
    const result = await testbed(['doctor'], {
      TESTBED_HOSTS: 'libvrt:qemu:///system docker:tcp://127.0.0.1 libvirt:qemu:///session',
    });
    expect(result.exitCode).not.toBe(0);
    const output = result.stderr + result.stdout;
    expect(output).toContain('Invalid testbed environment (2 problems)');
    expect(output).toContain(
      "TESTBED_HOSTS[0]: 'libvrt' is not a backend (did you mean 'libvirt'?)",
    );
    expect(output).toContain("TESTBED_HOSTS[1]: 'tcp://127.0.0.1' names no port");
  });
});
