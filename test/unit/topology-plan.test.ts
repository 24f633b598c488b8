import { describe, expect, it } from 'vitest';
import type { VmCapability } from '../../src/core/capabilities.js';
import { isTestbedError, type TopologyError } from '../../src/core/errors.js';
import {
  checkMixedNetworks,
  checkTopology,
  hostsFor,
  pickSubnet,
  planNetwork,
  type TopologyDeclaration,
} from '../../src/harness/topology-plan.js';

function problemsOf(declaration: TopologyDeclaration): string[] {
  try {
    checkTopology(declaration);
  } catch (error) {
    expect(isTestbedError(error, 'TESTBED_INVALID_TOPOLOGY')).toBe(true);
    return (error as TopologyError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  return [];
}

describe('checkTopology', () => {
  it('accepts machines and networks of declared members', () => {
    expect(
      problemsOf({
        machines: { db: { needs: ['Exec'] }, app: { needs: ['SshAccess'] } },
        networks: { lan: ['db', 'app'] },
      }),
    ).toEqual([]);
  });

  it('reports every problem at once: undeclared and repeated members, names, shared hostnames', () => {
    const problems = problemsOf({
      machines: {
        db: { needs: ['Exec'] },
        Bad_Name: { needs: ['Exec'] },
        replica: { needs: ['Exec'], spec: { hostname: 'db' } },
      },
      networks: { lan: ['db', 'web', 'db'], empty: [] },
    });
    expect(problems).toEqual([
      expect.stringMatching(/^machines\.Bad_Name: is not a usable name/),
      "machines.replica: has the name 'db' that machines.db has too; every member needs a name of its own",
      "networks.lan: names 'web', which is not a declared machine (declared: db, Bad_Name, replica)",
      "networks.lan: lists 'db' twice",
      'networks.empty: must list at least one member',
    ]);
  });

  it('refuses a topology without machines', () => {
    expect(problemsOf({ machines: {} })).toEqual(['machines: declares no machine']);
  });
});

describe('addresses and names', () => {
  it('picks a 10.200-254.x.0/24 subnet that overlaps none taken', () => {
    const values = [0, 0, 0, 0, 0.5, 0.5];
    const random = () => values.shift() ?? 0.9;
    // The first pick (10.200.0.0/24) is inside the host's 10.200.0.0/16: the next one is taken.
    expect(pickSubnet(['10.200.0.0/16'], random)).toBe('10.227.128.0/24');
    expect(pickSubnet([], () => 0)).toBe('10.200.0.0/24');
  });

  it('numbers members from .11 in their network order and gives each its peers and itself', () => {
    const lan = planNetwork('lan', ['db', 'app'], '10.213.7.0/24');
    const back = planNetwork('back', ['app', 'cache'], '10.213.8.0/24');
    expect(lan.addresses).toEqual({ db: '10.213.7.11', app: '10.213.7.12' });
    expect(hostsFor('app', [lan, back])).toEqual({
      db: '10.213.7.11',
      app: '10.213.7.12',
      cache: '10.213.8.12',
    });
    expect(hostsFor('db', [lan, back])).toEqual({ db: '10.213.7.11', app: '10.213.7.12' });
  });
});

describe('checkMixedNetworks', () => {
  const shared: VmCapability[] = [{ kind: 'SharedBridge' }];
  it('allows one provider per network, or several that all offer SharedBridge', () => {
    const capabilities = () => shared;
    expect(checkMixedNetworks({ lan: ['a', 'b'] }, { a: 'libvirt', b: 'libvirt' }, () => [])).toBe(
      undefined,
    );
    expect(
      checkMixedNetworks({ lan: ['a', 'b'] }, { a: 'libvirt', b: 'docker' }, capabilities),
    ).toBe(undefined);
  });

  it('names the network, its members and their providers when one cannot share', () => {
    const error = checkMixedNetworks(
      { lan: ['vm', 'db'] },
      { vm: 'libvirt', db: 'podman' },
      (id) => (id === 'libvirt' ? shared : []),
    );
    expect(error?.code).toBe('TESTBED_MIXED_NETWORK_UNSUPPORTED');
    expect(error?.message).toMatch(
      /Network 'lan' joins machines of different providers: vm \(libvirt\), db \(podman\)/,
    );
    expect(error?.message).toMatch(/podman offer SharedBridge/);
  });
});
