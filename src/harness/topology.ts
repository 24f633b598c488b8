import { networkInterfaces } from 'node:os';
import {
  isTestbedError,
  MixedNetworkError,
  NotOnNetworkError,
  ProvisionError,
} from '../core/errors.js';
import { injectLinkFault } from '../core/faults.js';
import type {
  FaultOptions,
  Machine,
  MachineNetwork,
  MachineSpec,
  NetworkAttachment,
  NetworkOptions,
} from '../core/provider.js';
import { describeError } from './describe-error.js';
import { destroyQuietly, type Report } from './destroy-quietly.js';
import {
  hostsFor,
  type NetworkPlan,
  pickSubnet,
  planNetwork,
  type TopologyDeclaration,
} from './topology-plan.js';

/** What provisioning a topology needs from the test process: machines and networks by provider. */
export interface TopologyBackends {
  /** Provisions one member on the provider chosen for it. */
  provision(providerId: string, spec: MachineSpec, signal?: AbortSignal): Promise<Machine>;
  /** Creates a network on a provider (`NetworkOverlay`). */
  createNetwork(providerId: string, options: NetworkOptions): Promise<MachineNetwork>;
}

/** A network of a topology: one segment, made of one network per provider on it. */
export class TopologyNetwork {
  constructor(
    /** The network's name in the declaration. */
    readonly name: string,
    /** Its IPv4 subnet. */
    readonly subnet: string,
    /** Each member's address on it. */
    readonly addresses: Readonly<Record<string, string>>,
    /** The providers' networks that make up the segment, the one owning the bridge first. */
    readonly segments: readonly MachineNetwork[],
  ) {}

  /** Cuts `machine`'s link to this network until `connect` (`NetworkFaults`); idempotent. */
  disconnect(machine: Machine, options?: FaultOptions): Promise<void> {
    return injectLinkFault(this.#segment(machine), 'disconnect', machine, options);
  }

  /** Restores a link `disconnect` cut (`NetworkFaults`); idempotent. */
  connect(machine: Machine, options?: FaultOptions): Promise<void> {
    return injectLinkFault(this.#segment(machine), 'connect', machine, options);
  }

  /** The segment of the machine's provider; a machine of a provider not on it is not on the network. */
  #segment(machine: Machine): MachineNetwork {
    const segment = this.segments.find((s) => s.providerId === machine.providerId);
    if (!segment) throw new NotOnNetworkError(machine.name, this.name);
    return segment;
  }
}

/** Machines of a topology and its networks, destroyed together. */
export interface Topology {
  /** The machines by member name. */
  readonly machines: Readonly<Record<string, Machine>>;
  /** The networks by name. */
  readonly networks: Readonly<Record<string, TopologyNetwork>>;
  /** A label for reports: the members' machine names. */
  readonly name: string;
  /** Destroys the machines (last declared first), then the networks; idempotent. */
  destroy(options?: { keepArtifacts?: boolean }): Promise<void>;
}

const SUBNET_ATTEMPTS = 5;

/**
 * Waits for every task, then rejects with the first failure that was not an abort: nothing may still be creating
 * machines when the cleanup runs, or what it creates afterwards would be left behind.
 */
async function settleAll(tasks: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(tasks);
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  // Tasks aborted because another failed say less than the one that failed first.
  const cause = failed.find((r) => !isTestbedError(r.reason?.cause ?? r.reason, 'TESTBED_ABORTED'));
  if (failed.length > 0) throw (cause ?? failed[0])?.reason;
}

/** Subnets this host already routes, which a topology must not shadow. */
function hostSubnets(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .flatMap((info) => (info && info.family === 'IPv4' && info.cidr ? [info.cidr] : []));
}

/**
 * Provisions a checked topology: its networks first (a mixed one on the bridge of its first
 * provider's network, which the others join), then every member in parallel, each with a static
 * address on each of its networks and `/etc/hosts` lines for its peers. If anything fails, the
 * others are aborted and everything created is removed, last first; the error names the member.
 */
export async function provisionTopology(
  declaration: TopologyDeclaration,
  providerOf: Readonly<Record<string, string>>,
  backends: TopologyBackends,
  options: { signal?: AbortSignal; report?: Report } = {},
): Promise<Topology> {
  const machines: Record<string, Machine> = {};
  const created: MachineNetwork[] = [];
  const networks: Record<string, TopologyNetwork> = {};
  const order = Object.keys(declaration.machines);
  const report = options.report ?? ((m: string) => console.error(m));
  let destroying: Promise<void> | undefined;
  const destroy = (destroyOptions: { keepArtifacts?: boolean } = {}) => {
    destroying ??= (async () => {
      for (const member of [...order].reverse()) {
        const machine = machines[member];
        if (machine) await destroyQuietly(machine, { ...destroyOptions, report });
      }
      for (const network of [...created].reverse()) {
        await network.destroy().catch((error: unknown) => {
          report(`testbed: could not remove network ${network.name}: ${describeError(error)}`);
        });
      }
    })();
    return destroying;
  };
  const topology: Topology = {
    machines,
    networks,
    get name() {
      return order.map((m) => machines[m]?.name ?? m).join(', ');
    },
    destroy,
  };
  const abort = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, abort.signal]) : abort.signal;
  try {
    const plans: NetworkPlan[] = [];
    const taken = hostSubnets();
    await settleAll(
      Object.entries(declaration.networks ?? {}).map(async ([name, members]) => {
        const providers = [...new Set(members.map((m) => providerOf[m] as string))];
        for (let attempt = 1; ; attempt++) {
          const subnet = pickSubnet(taken);
          taken.push(subnet);
          const segments: MachineNetwork[] = [];
          try {
            const make = async (providerId: string, more: Partial<NetworkOptions> = {}) => {
              const segment = await backends.createNetwork(providerId, {
                name,
                subnet,
                signal,
                ...more,
              });
              segments.push(segment);
              created.push(segment);
              return segment;
            };
            // A mixed network is carried by the first provider that can make a shared bridge;
            // the others refuse before creating anything.
            let first: MachineNetwork | undefined;
            for (const providerId of providers) {
              if (providers.length === 1) first = await make(providerId);
              else {
                first = await make(providerId, { shared: true }).catch((error: unknown) => {
                  if (isTestbedError(error, 'TESTBED_UNSUPPORTED')) return undefined;
                  throw error;
                });
              }
              if (first) break;
            }
            if (!first) {
              throw new MixedNetworkError(
                name,
                Object.fromEntries(members.map((m) => [m, providerOf[m] ?? '?'])),
                {
                  fix: 'None of their providers makes a host bridge the others can join: put these members on one provider.',
                },
              );
            }
            const base = first.providerId;
            for (const providerId of providers) {
              if (providerId !== base) await make(providerId, { join: first });
            }
          } catch (error) {
            if (!isTestbedError(error, 'TESTBED_SUBNET_TAKEN') || attempt >= SUBNET_ATTEMPTS) {
              throw error;
            }
            for (const segment of segments.reverse()) {
              await segment.destroy().catch(() => undefined);
              created.splice(created.indexOf(segment), 1);
            }
            continue;
          }
          const plan = planNetwork(name, members, subnet);
          plans.push(plan);
          networks[name] = new TopologyNetwork(name, subnet, plan.addresses, segments);
          return;
        }
      }),
    );
    await settleAll(
      order.map(async (member) => {
        const declared = declaration.machines[member];
        const providerId = providerOf[member] as string;
        const attachments: NetworkAttachment[] = plans.flatMap((plan) => {
          const address = plan.addresses[member];
          const segment = networks[plan.name]?.segments.find((s) => s.providerId === providerId);
          return address && segment
            ? [{ network: segment, address: `${address}/24`, aliases: [member] }]
            : [];
        });
        const spec = declared?.spec ?? {};
        try {
          machines[member] = await backends.provision(
            providerId,
            {
              ...spec,
              name: member,
              hostname: (spec.hostname as string | undefined) ?? member,
              networks: [...(spec.networks ?? []), ...attachments],
              hosts: { ...hostsFor(member, plans), ...(spec.hosts ?? {}) },
            },
            signal,
          );
        } catch (error) {
          abort.abort(error);
          throw new ProvisionError(
            `Topology member '${member}' (${providerId}) was not provisioned: ${describeError(error)}`,
            {
              cause: error,
              fix: "See the cause above; the topology's other machines and networks were removed.",
            },
          );
        }
      }),
    );
  } catch (error) {
    abort.abort(error);
    await destroy();
    // The first member to fail says why; the others were aborted because of it.
    throw error;
  }
  return topology;
}
