import type { CapabilityInput } from '../core/capabilities.js';
import { formatCapability } from '../core/capabilities.js';
import type { ProviderHealth } from '../core/provider.js';
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
}

/** Everything `testbed doctor` found: the data behind both the text and the JSON output. */
export interface DoctorReport {
  providers: DoctorProviderEntry[];
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
  }));
  return {
    providers,
    needs: selection.needs,
    selected: selection.best?.id ?? null,
    ranked: selection.ranked,
    unmet: selection.error?.message ?? null,
    healthy: providers.some((p) => p.available && p.health?.healthy === true),
    ...acceleratorOf(providers),
    access: options.access ?? [],
  };
}
