import { describe, expect, it } from 'vitest';
import { collectDoctorReport } from '../../src/cli/doctor-report.js';
import { main } from '../../src/cli/main.js';
import { renderDoctorJson, renderDoctorText } from '../../src/cli/render-doctor.js';
import { parseHostEntry } from '../../src/core/hosts.js';
import { PendingHostProvider } from '../../src/core/pending-host-provider.js';
import { ProviderRegistry } from '../../src/core/registry.js';
import { fakeProvider } from './fake-provider.js';

function registry() {
  return new ProviderRegistry()
    .register(
      fakeProvider({ id: 'vm', capabilities: ['SerialConsole', 'Exec', 'VmType(FullVirt)'] }),
    )
    .register(
      fakeProvider({ id: 'ct', capabilities: ['Exec', 'VmType(Container)'], vmType: 'Container' }),
    )
    .register(fakeProvider({ id: 'off', capabilities: ['Exec'], available: false }));
}

function capture() {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    io: {
      stdout: (t: string) => {
        out.stdout += t;
      },
      stderr: (t: string) => {
        out.stderr += t;
      },
    },
  };
}

describe('doctor report', () => {
  it('collects providers, availability, health and the selection for the needs', async () => {
    const report = await collectDoctorReport(registry(), ['SerialConsole']);
    expect(report.selected).toBe('vm');
    expect(report.healthy).toBe(true);
    expect(report.providers.map((p) => [p.id, p.available])).toEqual([
      ['vm', true],
      ['ct', true],
      ['off', false],
    ]);
    expect(report.providers[0]?.capabilities).toEqual([
      'SerialConsole',
      'Exec',
      'VmType(FullVirt)',
    ]);
  });

  it('renders the discovery report as text', async () => {
    const text = renderDoctorText(await collectDoctorReport(registry(), ['Exec']));
    expect(text).toContain('Provider: vm (Fake vm, FullVirt)');
    expect(text).toContain('  ✓ VmType(Container)');
    expect(text).toContain(
      '✗ off unavailable: not found on this host\n      fix: start the off daemon',
    );
    expect(text).toContain('version: 1.0');
    expect(text).toContain('Selection for Exec:\n  → ct (Fake ct, Container)');
  });

  it('explains an unmet need in the text report', async () => {
    const text = renderDoctorText(await collectDoctorReport(registry(), ['Custom(gpu)']));
    expect(text).toContain('✗ No available provider offers Custom(gpu)');
  });

  it('lists each configured host with its providers and their capacity, in text and JSON', async () => {
    const entry = parseHostEntry('host2=libvirt:qemu+ssh://ci@10.0.0.2/system');
    if (!entry.ok) throw new Error(entry.message);
    const withHosts = registry().register(
      new PendingHostProvider({
        entry: entry.entry,
        reason: 'remote libvirt is not built yet',
        fix: 'drop it',
        capabilities: [],
        vmType: 'FullVirt',
      }),
    );
    const vm = withHosts.get('vm');
    if (vm) {
      vm.capacity = async () => ({
        total: { memoryMiB: 8192, vcpus: 4 },
        free: { memoryMiB: 6144, vcpus: 3 },
      });
    }
    const report = await collectDoctorReport(withHosts, []);
    expect(report.hosts).toEqual([
      { name: 'local', uris: [], providers: ['vm', 'ct', 'off'] },
      { name: 'host2', uris: ['qemu+ssh://ci@10.0.0.2/system'], providers: ['libvirt@host2'] },
    ]);
    expect(report.providers[0]).toMatchObject({
      host: 'local',
      capacity: { free: { memoryMiB: 6144 } },
    });
    const text = renderDoctorText(report);
    expect(text).toContain(
      [
        'Hosts:',
        '  local',
        '    ✓ vm: memory 6144/8192 MiB free, vCPUs 3/4 free',
        '    ✓ ct: capacity not reported',
        '    ✗ off: not found on this host',
        '  host2 (qemu+ssh://ci@10.0.0.2/system)',
        '    ✗ libvirt@host2: remote libvirt is not built yet',
      ].join('\n'),
    );
    expect(JSON.parse(renderDoctorJson(report)).hosts[1].name).toBe('host2');
  });

  it('renders valid JSON with the same data', async () => {
    const report = await collectDoctorReport(registry(), []);
    expect(JSON.parse(renderDoctorJson(report))).toEqual(JSON.parse(JSON.stringify(report)));
  });
});

describe('testbed CLI', () => {
  it('prints help listing the commands and the environment variables', async () => {
    const { out, io } = capture();
    expect(await main(['--help'], io)).toBe(0);
    expect(out.stdout).toMatch(/Commands:[\s\S]*doctor[\s\S]*TESTBED_PROVIDERS/);
  });

  it('rejects an unknown command with exit code 2', async () => {
    const { out, io } = capture();
    expect(await main(['doctr'], io)).toBe(2);
    expect(out.stderr).toContain("Unknown command 'doctr'");
  });

  it('reports a malformed environment as an error naming the variable', async () => {
    const { out, io } = capture();
    const saved = process.env.TESTBED_SSH_PORT;
    process.env.TESTBED_SSH_PORT = 'abc';
    try {
      expect(await main(['doctor', '--json'], io)).toBe(1);
    } finally {
      if (saved === undefined) delete process.env.TESTBED_SSH_PORT;
      else process.env.TESTBED_SSH_PORT = saved;
    }
    expect(out.stderr).toContain('TESTBED_SSH_PORT: must be a TCP port');
  });

  it('reports an unknown need with the valid names', async () => {
    const { out, io } = capture();
    expect(await main(['doctor', '--needs', 'SerialConsol'], io)).toBe(1);
    expect(out.stderr).toContain("Did you mean 'SerialConsole'?");
  });
});
