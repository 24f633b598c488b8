import { describe, expect, it } from 'vitest';
import { collectDoctorReport } from '../../src/cli/doctor-report.js';
import { assessHostAccess, gatherHostFacts, type HostFacts } from '../../src/cli/host-access.js';
import { renderDoctorJson, renderDoctorText } from '../../src/cli/render-doctor.js';
import { ProviderRegistry } from '../../src/core/registry.js';
import type { HostFiles } from '../../src/providers/libvirt/qemu-reach.js';
import { fakeProvider } from './fake-provider.js';

/** A developer on a stock Debian host; each test changes what it is about. */
function facts(change: Partial<HostFacts> = {}): HostFacts {
  return {
    user: 'ada',
    uid: 1000,
    groups: ['ada', 'libvirt', 'kvm', 'docker'],
    docker: { found: true, endpoint: 'unix:///var/run/docker.sock' },
    libvirt: {
      uri: 'qemu:///system',
      configured: false,
      systemSocket: 'open',
      sessionDaemon: true,
    },
    kvm: { device: { mode: 0o20660, group: 'kvm' }, accessible: true },
    ...change,
  };
}

const failing = (checks: ReturnType<typeof assessHostAccess>) =>
  checks.filter((c) => !c.ok).map((c) => [c.backend, c.fix]);

describe('assessHostAccess', () => {
  it('finds nothing to do for a developer in groups libvirt, kvm and docker', () => {
    expect(failing(assessHostAccess(facts()))).toEqual([]);
  });

  it('says how to join group docker when the socket is there but not this user’s', () => {
    const checks = assessHostAccess(
      facts({
        docker: {
          found: false,
          endpoint: 'unix:///var/run/docker.sock',
          reason: '... run `sudo usermod -aG docker ada` ...',
        },
      }),
    );
    expect(checks[0]).toMatchObject({
      backend: 'docker',
      ok: false,
      found: expect.stringMatching(/not accessible to ada \(not in group docker\)/),
      fix: expect.stringMatching(/^sudo usermod -aG docker ada/),
    });
  });

  it('says how to start an engine when there is none', () => {
    const checks = assessHostAccess(
      facts({ docker: { found: false, reason: 'no Docker socket' } }),
    );
    expect(checks[0]).toMatchObject({ ok: false, fix: expect.stringMatching(/setup-host/) });
  });

  it('a user outside group libvirt uses the session daemon, and is told how to get the system one', () => {
    const outsider = facts({
      groups: ['ada'],
      libvirt: {
        uri: 'qemu:///session',
        configured: false,
        systemSocket: 'denied',
        sessionDaemon: true,
      },
      kvm: { device: { mode: 0o20660, group: 'kvm' }, accessible: false },
    });
    const checks = assessHostAccess(outsider);
    const libvirt = checks.find((c) => c.backend === 'libvirt');
    expect(libvirt).toMatchObject({ ok: true });
    expect(libvirt?.found).toMatch(
      /qemu:\/\/\/session .*not in group libvirt.*sudo usermod -aG libvirt ada/,
    );
    // Session QEMU is this user: its own /dev/kvm access decides KVM.
    expect(failing(checks)).toEqual([
      ['kvm', 'sudo usermod -aG kvm ada   # then log out and in again'],
    ]);
  });

  it('without a session daemon either, libvirt is not usable and the fix says so', () => {
    const checks = assessHostAccess(
      facts({
        groups: ['ada'],
        libvirt: {
          uri: 'qemu:///session',
          configured: false,
          systemSocket: 'denied',
          sessionDaemon: false,
        },
      }),
    );
    expect(failing(checks)).toContainEqual([
      'libvirt',
      expect.stringMatching(/usermod -aG libvirt ada.*libvirt-daemon/),
    ]);
  });

  it('a system URI set by hand but refused names the group to join', () => {
    const checks = assessHostAccess(
      facts({
        groups: ['ada'],
        libvirt: {
          uri: 'qemu:///system',
          configured: true,
          systemSocket: 'denied',
          sessionDaemon: true,
        },
      }),
    );
    expect(failing(checks)).toContainEqual([
      'libvirt',
      expect.stringMatching(/^sudo usermod -aG libvirt ada/),
    ]);
  });

  it('a stopped system daemon is started by setup-host', () => {
    const checks = assessHostAccess(
      facts({
        libvirt: {
          uri: 'qemu:///system',
          configured: false,
          systemSocket: 'missing',
          sessionDaemon: true,
        },
      }),
    );
    expect(failing(checks)).toContainEqual(['libvirt', expect.stringMatching(/setup-host/)]);
  });

  it('a home the QEMU user cannot enter is reported with chmod o+x', () => {
    const checks = assessHostAccess(
      facts({
        libvirt: {
          uri: 'qemu:///system',
          configured: false,
          systemSocket: 'open',
          sessionDaemon: true,
          qemuReach:
            "libvirt's QEMU user libvirt-qemu cannot enter /home/ada (mode 0700), on the way to ... Fix: ...",
        },
      }),
    );
    expect(failing(checks)).toEqual([
      ['libvirt', 'chmod o+x /home/ada   # or TESTBED_LIBVIRT_URI=qemu:///session'],
    ]);
  });

  it('no /dev/kvm means TCG, and says what to enable', () => {
    const checks = assessHostAccess(facts({ kvm: { device: undefined, accessible: false } }));
    expect(checks.at(-1)).toMatchObject({
      backend: 'kvm',
      ok: false,
      found: expect.stringMatching(/TCG.*still correct/),
    });
  });
});

describe('gatherHostFacts', () => {
  const files = (homeMode: number): HostFiles => ({
    readText: (path) =>
      ({
        '/etc/passwd': 'libvirt-qemu:x:64055:108::/var/lib/libvirt:/usr/sbin/nologin\n',
        '/etc/group': 'kvm:x:108:\nlibvirt:x:107:ada\n',
      })[path],
    stat: (path) =>
      ({
        '/': { mode: 0o40755, uid: 0, gid: 0 },
        '/home': { mode: 0o40755, uid: 0, gid: 0 },
        '/home/ada': { mode: 0o40000 | homeMode, uid: 1000, gid: 1000 },
        '/dev/kvm': { mode: 0o20660, uid: 0, gid: 108 },
      })[path],
  });

  it('reads the chosen URI, sockets, /dev/kvm and the QEMU user’s reach from injected parts', () => {
    const gathered = gatherHostFacts({
      env: { HOME: '/home/ada', USER: 'ada' },
      uid: 1000,
      libvirtAccess: () => ({ groups: ['ada', 'libvirt'], systemSocket: 'open' }),
      exists: (path) => path === '/var/run/docker.sock' || path === '/usr/sbin/libvirtd',
      usable: () => false,
      files: files(0o700),
    });
    expect(gathered).toMatchObject({
      user: 'ada',
      docker: { found: false, endpoint: 'unix:///var/run/docker.sock' },
      libvirt: { uri: 'qemu:///system', configured: false, sessionDaemon: true },
      kvm: { device: { group: 'kvm' }, accessible: false },
    });
    expect(gathered.libvirt.qemuReach).toMatch(/cannot enter \/home\/ada \(mode 0700\)/);
    expect(
      gatherHostFacts({
        env: { HOME: '/home/ada', USER: 'ada' },
        uid: 1000,
        libvirtAccess: () => ({ groups: ['ada', 'libvirt'], systemSocket: 'open' }),
        exists: () => false,
        usable: () => true,
        files: files(0o711),
      }).libvirt.qemuReach,
    ).toBeUndefined();
  });
});

describe('doctor report with access checks', () => {
  it('carries the checks and the accelerator into the JSON, and prints each fix', async () => {
    const registry = new ProviderRegistry().register(
      fakeProvider({
        id: 'libvirt',
        capabilities: ['Exec', 'VmType(FullVirt)'],
        details: { accelerator: 'kvm', acceleratorVerified: true },
      }),
    );
    const access = assessHostAccess(
      facts({ groups: ['ada'], docker: { found: false, reason: 'no Docker socket' } }),
    );
    const report = await collectDoctorReport(registry, [], { access });
    expect(report).toMatchObject({ accelerator: 'kvm', acceleratorVerified: true });
    expect(JSON.parse(renderDoctorJson(report))).toMatchObject({
      accelerator: 'kvm',
      access: [
        { backend: 'docker', ok: false },
        { backend: 'libvirt' },
        { backend: 'kvm', ok: true },
      ],
    });
    const text = renderDoctorText(report);
    expect(text).toMatch(
      /Access \(this user\):\n {2}✗ docker: no Docker socket\n {6}fix: sudo npx testbed setup-host/,
    );
  });

  it('has no accelerator without libvirt', async () => {
    const registry = new ProviderRegistry().register(
      fakeProvider({ id: 'ct', capabilities: ['Exec'] }),
    );
    expect(await collectDoctorReport(registry)).toMatchObject({
      accelerator: null,
      acceleratorVerified: null,
      access: [],
    });
  });
});
