import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DoctorReport } from '../../src/cli/doctor-report.js';

const bin = fileURLToPath(new URL('../../bin/testbed.js', import.meta.url));

/** Runs the built `testbed` command as a user would (`npx testbed ...`). */
function testbed(args: string[], env: Record<string, string> = {}) {
  return execa(process.execPath, [bin, ...args], { reject: false, env, timeout: 120_000 });
}

async function doctorJson(args: string[], env: Record<string, string> = {}): Promise<DoctorReport> {
  const result = await testbed(['doctor', '--json', ...args], env);
  return JSON.parse(result.stdout) as DoctorReport;
}

describe('testbed doctor on this host (real libvirtd and Docker engine)', () => {
  beforeAll(() => {
    if (!existsSync(fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url)))) {
      throw new Error('bin/testbed.js runs dist/: run `npm run build` first.');
    }
  });

  it('lists both providers with capabilities and health, as valid JSON, and exits 0', async () => {
    const result = await testbed(['doctor', '--json']);
    expect(result.exitCode).toBe(0);
    const report = JSON.parse(result.stdout) as DoctorReport;
    const byId = new Map(report.providers.map((p) => [p.id, p]));
    expect([...byId.keys()]).toEqual(['libvirt', 'docker']);
    expect(byId.get('libvirt')).toMatchObject({ available: true, health: { healthy: true } });
    expect(byId.get('libvirt')?.capabilities).toContain('SerialConsole');
    expect(byId.get('libvirt')?.health?.details?.accelerator).toMatch(/^(kvm|tcg)$/);
    expect(byId.get('docker')).toMatchObject({ available: true, health: { healthy: true } });
    expect(byId.get('docker')?.capabilities).toContain('VmType(Container)');
    expect(report.healthy).toBe(true);
  });

  it('picks libvirt for SerialConsole and docker for VmType(Container)', async () => {
    expect((await doctorJson(['--needs', 'SerialConsole'])).selected).toBe('libvirt');
    expect((await doctorJson(['--needs', 'VmType(Container)'])).selected).toBe('docker');
  });

  it('explains an unmet need and exits 1', async () => {
    const result = await testbed(['doctor', '--needs', 'Custom(gpu)']);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain('No available provider offers Custom(gpu)');
    expect(result.stdout).toContain('libvirt: lacks Custom(gpu)');
  });

  it('falls through to libvirt when the Docker engine is unreachable, saying why', async () => {
    const report = await doctorJson([], { DOCKER_HOST: 'unix:///nonexistent/docker.sock' });
    const docker = report.providers.find((p) => p.id === 'docker');
    expect(docker?.available).toBe(false);
    expect(docker?.reason).toContain('/nonexistent/docker.sock');
    expect(report.selected).toBe('libvirt');
  });

  it('prints the text report with the selection', async () => {
    const result = await testbed(['doctor', '--needs', 'SerialConsole,CloneVm']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/Selection for SerialConsole, CloneVm:\n {2}→ libvirt/);
  });

  it('setup-host runs the shipped host script for npm users: the host is ready, exit 0', async () => {
    const result = await testbed(['setup-host'], { PATH: process.env.PATH ?? '' });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/setup-host: host ready: Docker \S+, QEMU/);
  });

  it('TESTBED_PROVIDERS with a typo is a config error naming the known ids', async () => {
    const result = await testbed(['doctor', '--needs', 'Exec'], {
      TESTBED_PROVIDERS: 'libvirt,dockr',
    });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr + result.stdout).toContain(
      "unknown provider id 'dockr' (did you mean 'docker'?)",
    );
  });
});
