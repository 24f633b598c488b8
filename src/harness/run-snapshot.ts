import type { CapabilityString } from '../core/capabilities.js';
import type { HostEntry } from '../core/hosts.js';
import type { MachineDescriptor } from '../core/provider.js';
import type { RankingCandidate } from '../core/ranking.js';
import type { RunContext } from '../core/run-context.js';
import type { OnUnmet } from './testbed-options.js';

/** A run-scoped machine as workers see it: its descriptor, or why it could not be had. */
export type RunMachineEntry =
  | { available: true; needs: CapabilityString[]; descriptor: MachineDescriptor }
  | { available: false; needs: CapabilityString[]; reason: string };

/**
 * What the run's setup hands to every test process, as plain structured-cloneable data: the run
 * identity, discovery results (so workers rank providers without discovering again), settings
 * and the run-scoped machines.
 */
export interface RunSnapshot {
  /** The run every resource is stamped with; its owner is the test runner's main process. */
  run: RunContext;
  /** Discovery results, ready for `rankProviders`. */
  candidates: RankingCandidate[];
  /** Provider preference, best first. */
  preference: string[] | undefined;
  /** What to do with unmet needs. */
  onUnmet: OnUnmet;
  /** Keep a failed test's machine artifacts. */
  keepOnFailure: boolean;
  /** Test-scoped machines start from warm templates where the provider offers `WarmSnapshot`. */
  warm: boolean;
  /** Upper bound on provisioning one machine, in ms. */
  timeoutMs: number | undefined;
  /** Module exporting the registry factory, resolved to an absolute path or package name. */
  registry: string | undefined;
  /** Run-scoped machines by name. */
  machines: Record<string, RunMachineEntry>;
  /** Engines beside the local ones from the `hosts` option, so test processes register the same providers; undefined: TESTBED_HOSTS. */
  hosts?: HostEntry[] | undefined;
}
