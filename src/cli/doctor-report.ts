import type { CapabilityInput } from '../core/capabilities.js';
import { formatCapability } from '../core/capabilities.js';
import type { ProviderCapacity, ProviderHealth, VmBackendProvider } from '../core/provider.js';
import type { ProviderRegistry } from '../core/registry.js';
import type { AccessCheck } from './host-access.js';

/** One provider's line in the doctor report. */
export interface DoctorProviderEntry {
  id: string;
  name: string;
  vmType: string;
  capabilities: string[];
  available: boolean;
  reason?: string | undefined;
  setupHint: string;
  health?: ProviderHealth | undefined;
  durationMs: number;
  /** The host it provisions on: `local`, or the name from TESTBED_HOSTS / the `hosts` option. */
  host: string;
  /** What the host has and has free, when the provider reported it. */
  capacity?: ProviderCapacity | undefined;
}

/** One configured host and the providers on it, for the hosts section of the report. */
export interface DoctorHostEntry {
  /** Host name: `local` for this machine. */
  name: string;
  /** The engine URIs configured for it (none for the local defaults). */
  uris: string[];
  /** Ids of its providers, in registration order. */
  providers: string[];
}

/** Everything `testbed doctor` found: the data behind both the text and the JSON output. */
export interface DoctorReport {
  providers: DoctorProviderEntry[];
  /** Providers grouped by host, in order of first appearance. */
  hosts: DoctorHostEntry[];
  needs: string[];
  selected: string | null;
  ranked: string[];
  unmet: string | null;
  /** True when at least one provider is available and healthy. */
  healthy: boolean;
  /** How libvirt's guests run here (`kvm`, or `tcg`: emulated, slower); null without libvirt. */
  accelerator: 'kvm' | 'tcg' | null;
  /** False while KVM is present but no KVM guest has been booted yet to prove it works. */
  acceleratorVerified: boolean | null;
  /** What this user lacks for each backend, with the command that fixes it. */
  access: AccessCheck[];
}

/** Options of `collectDoctorReport`. */
export interface DoctorOptions {
  /** This user's access checks (`assessHostAccess(gatherHostFacts())`); default none. */
  access?: AccessCheck[];
}

function acceleratorOf(
  providers: readonly DoctorProviderEntry[],
): Pick<DoctorReport, 'accelerator' | 'acceleratorVerified'> {
  const details = providers.find((p) => p.id === 'libvirt')?.health?.details;
  const accelerator = details?.accelerator;
  if (accelerator !== 'kvm' && accelerator !== 'tcg') {
    return { accelerator: null, acceleratorVerified: null };
  }
  return { accelerator, acceleratorVerified: details?.acceleratorVerified === true };
}

/** The host a provider provisions on: a configured host's name, the part of its id after `@`, or `local`. */
function hostOf(provider: VmBackendProvider): { name: string; uri?: string } {
  if (provider.host) return { name: provider.host.name, uri: provider.host.uri };
  const at = provider.id.indexOf('@');
  return { name: at === -1 ? 'local' : provider.id.slice(at + 1) };
}

function groupByHost(statuses: readonly { provider: VmBackendProvider }[]): DoctorHostEntry[] {
  const hosts = new Map<string, DoctorHostEntry>();
  for (const { provider } of statuses) {
    const { name, uri } = hostOf(provider);
    const host = hosts.get(name) ?? { name, uris: [], providers: [] };
    if (uri) host.uris.push(uri);
    host.providers.push(provider.id);
    hosts.set(name, host);
  }
  return [...hosts.values()];
}

/** Runs discovery, health checks and selection for `needs`, and collects the report. */
export async function collectDoctorReport(
  registry: ProviderRegistry,
  needs: readonly string[] = [],
  options: DoctorOptions = {},
): Promise<DoctorReport> {
  // Typed from the command line: parseNeeds inside select() validates them and names bad ones.
  const selection = await registry.select(needs as readonly CapabilityInput[]);
  const providers = selection.statuses.map((s) => ({
    id: s.provider.id,
    name: s.provider.name,
    vmType: s.provider.vmType(),
    capabilities: s.capabilities.map(formatCapability),
    available: s.available,
    reason: s.reason,
    setupHint: s.provider.setupHint,
    health: s.health,
    durationMs: s.durationMs,
    host: hostOf(s.provider).name,
    capacity: s.capacity,
  }));
  return {
    providers,
    hosts: groupByHost(selection.statuses),
    needs: selection.needs,
    selected: selection.best?.id ?? null,
    ranked: selection.ranked,
    unmet: selection.error?.message ?? null,
    healthy: providers.some((p) => p.available && p.health?.healthy === true),
    ...acceleratorOf(providers),
    access: options.access ?? [],
  };
}
