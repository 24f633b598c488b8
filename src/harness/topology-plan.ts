import type { CapabilityInput, VmCapability } from '../core/capabilities.js';
import { MixedNetworkError, TopologyError, type ValidationProblem } from '../core/errors.js';
import type { MachineSpec } from '../core/provider.js';

/** One machine of a topology: what it needs and how to provision it. */
export interface TopologyMember<
  Needs extends readonly CapabilityInput[] = readonly CapabilityInput[],
> {
  /** Capabilities this machine must offer. */
  needs: Needs;
  /** Provisioning options (image, memory, ports, files, waits, ...); its name is the member's. */
  spec?: MachineSpec;
}

/** Machines by name, and isolated networks by name listing the machines on each. */
export interface TopologyDeclaration {
  /** The machines; each name is also its hostname and the name the others reach it by. */
  machines: Readonly<Record<string, TopologyMember>>;
  /** Isolated networks: each lists members that reach each other on it by name. */
  networks?: Readonly<Record<string, readonly string[]>>;
}

/** One network of a topology, with the address of each member on it. */
export interface NetworkPlan {
  /** The network's name in the declaration. */
  name: string;
  /** IPv4 subnet, `/24`. */
  subnet: string;
  /** Each member's address on it (no prefix length), in declaration order. */
  addresses: Readonly<Record<string, string>>;
}

const MEMBER = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;

/**
 * Checks a declaration; throws `TopologyError` listing every problem at once: no machines, names
 * that cannot be hostnames, two members with one hostname, networks naming undeclared or repeated
 * members.
 */
export function checkTopology(declaration: TopologyDeclaration): void {
  const problems: ValidationProblem[] = [];
  const names = Object.keys(declaration.machines ?? {});
  if (names.length === 0) {
    problems.push({ path: 'machines', message: 'declares no machine' });
  }
  const byHostname = new Map<string, string>();
  for (const name of names) {
    if (!MEMBER.test(name)) {
      problems.push({
        path: `machines.${name}`,
        message:
          'is not a usable name: 1-32 lowercase letters, digits and inner hyphens (it is the hostname the others resolve)',
      });
    }
    const member = declaration.machines[name];
    if (!member || !Array.isArray(member.needs)) {
      problems.push({ path: `machines.${name}.needs`, message: 'must be a list of capabilities' });
    }
    const hostname = (member?.spec?.hostname as string | undefined) ?? name;
    const other = byHostname.get(hostname);
    if (other !== undefined) {
      problems.push({
        path: `machines.${name}`,
        message: `has the name '${hostname}' that machines.${other} has too; every member needs a name of its own`,
      });
    } else {
      byHostname.set(hostname, name);
    }
  }
  for (const [network, members] of Object.entries(declaration.networks ?? {})) {
    if (!MEMBER.test(network)) {
      problems.push({
        path: `networks.${network}`,
        message: 'is not a usable name: 1-32 lowercase letters, digits and inner hyphens',
      });
    }
    if (!Array.isArray(members) || members.length === 0) {
      problems.push({ path: `networks.${network}`, message: 'must list at least one member' });
      continue;
    }
    const seen = new Set<string>();
    for (const member of members) {
      if (!names.includes(member)) {
        const known = names.length ? ` (declared: ${names.join(', ')})` : '';
        problems.push({
          path: `networks.${network}`,
          message: `names '${member}', which is not a declared machine${known}`,
        });
      } else if (seen.has(member)) {
        problems.push({ path: `networks.${network}`, message: `lists '${member}' twice` });
      }
      seen.add(member);
    }
  }
  if (problems.length > 0) {
    throw new TopologyError(problems, {
      fix: 'Declare each machine once under machines, and list only declared names in networks.',
    });
  }
}

/** A random `10.x.y.0/24` overlapping none of `taken` (other subnets, as CIDR or plain addresses). */
export function pickSubnet(taken: readonly string[], random: () => number = Math.random): string {
  const prefixes = new Set(taken.map((cidr) => cidr.split('.').slice(0, 3).join('.')));
  for (let attempt = 0; attempt < 1000; attempt++) {
    const second = 200 + Math.floor(random() * 55);
    const third = Math.floor(random() * 256);
    const prefix = `10.${second}.${third}`;
    if (!prefixes.has(prefix) && !taken.some((cidr) => overlaps(cidr, prefix))) {
      return `${prefix}.0/24`;
    }
  }
  throw new Error('no free 10.200-254.x.0/24 subnet: remove unused networks');
}

/** Whether the `/24` with this prefix overlaps a subnet `cidr` of any size (8-32). */
function overlaps(cidr: string, prefix24: string): boolean {
  const [address, bits = '32'] = cidr.split('/');
  const toNumber = (dotted: string) =>
    dotted.split('.').reduce((sum, octet) => sum * 256 + Number(octet), 0);
  const size = Math.min(Number(bits), 24);
  const mask = size === 0 ? 0 : (2 ** 32 - 2 ** (32 - size)) >>> 0;
  const a = toNumber(address ?? '0.0.0.0');
  const b = toNumber(`${prefix24}.0`);
  return (a & mask) >>> 0 === (b & mask) >>> 0;
}

/** Addresses on one network: `.11`, `.12`, ... in the order the network lists its members. */
export function planNetwork(name: string, members: readonly string[], subnet: string): NetworkPlan {
  const base = subnet.split('.').slice(0, 3).join('.');
  return {
    name,
    subnet,
    addresses: Object.fromEntries(
      members.map((member, index) => [member, `${base}.${11 + index}`]),
    ),
  };
}

/**
 * The `/etc/hosts` lines `member` needs: itself and every member it shares a network with, each
 * by its address on the first network they share.
 */
export function hostsFor(member: string, plans: readonly NetworkPlan[]): Record<string, string> {
  const hosts: Record<string, string> = {};
  for (const plan of plans) {
    if (!(member in plan.addresses)) continue;
    for (const [peer, address] of Object.entries(plan.addresses)) {
      if (!(peer in hosts)) hosts[peer] = address;
    }
  }
  return hosts;
}

/**
 * The networks whose members sit on different providers, checked before anything is created: a
 * network joining several providers needs every one of them to offer `SharedBridge`, else the
 * error names the network, its members and their providers.
 */
export function checkMixedNetworks(
  networks: Readonly<Record<string, readonly string[]>>,
  providerOf: Readonly<Record<string, string>>,
  capabilitiesOf: (providerId: string) => readonly VmCapability[],
): MixedNetworkError | undefined {
  for (const [network, members] of Object.entries(networks)) {
    const providers = new Set(members.map((m) => providerOf[m]));
    if (providers.size < 2) continue;
    const unable = [...providers].filter(
      (id) => id === undefined || !capabilitiesOf(id).some((c) => c.kind === 'SharedBridge'),
    );
    if (unable.length === 0) continue;
    return new MixedNetworkError(
      network,
      Object.fromEntries(members.map((m) => [m, providerOf[m] ?? '?'])),
      {
        fix: `Put these members on one provider (needs such as 'VmType(FullVirt)' on all of them), or run where ${unable.join(' and ')} offer SharedBridge (libvirt on qemu:///system with a rootful Docker engine, as root).`,
      },
    );
  }
  return undefined;
}
