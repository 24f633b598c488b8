import { firstLine } from '../core/first-line.js';
import type { OwnedResource, VmBackendProvider } from '../core/provider.js';
import { withTimeout } from '../core/with-timeout.js';

/** How listing went on one backend. */
export interface BackendListing {
  /** The provider. */
  providerId: string;
  /** `listed`: resources are complete; `unsupported`: the provider cannot list; otherwise not checked. */
  status: 'listed' | 'unavailable' | 'unsupported' | 'failed';
  /** Why the backend could not be checked, and what to do about it. */
  reason?: string | undefined;
  /** testbed resources found on it. */
  resources: OwnedResource[];
}

/** Options for `listAllResources`. */
export interface ListOptions {
  /** Aborts every listing. */
  signal?: AbortSignal | undefined;
  /** Upper bound for each provider's availability check plus listing, in ms. Default 30000. */
  timeoutMs?: number | undefined;
}

async function listOne(provider: VmBackendProvider, options: ListOptions): Promise<BackendListing> {
  const providerId = provider.id;
  const list = provider.listResources?.bind(provider);
  if (!list) return { providerId, status: 'unsupported', resources: [] };
  const timeoutMs = options.timeoutMs ?? 30_000;
  try {
    const available = await withTimeout(
      `${providerId}: isAvailable()`,
      timeoutMs,
      (s) => provider.isAvailable(s),
      options.signal,
    );
    if (!available) {
      return {
        providerId,
        status: 'unavailable',
        reason: `not reachable on this host; fix: ${provider.setupHint}`,
        resources: [],
      };
    }
    const resources = await withTimeout(
      `${providerId}: listResources()`,
      timeoutMs,
      (s) => list(s),
      options.signal,
    );
    return { providerId, status: 'listed', resources };
  } catch (error) {
    return { providerId, status: 'failed', reason: firstLine(error), resources: [] };
  }
}

/**
 * Lists testbed resources on every provider at once, each bounded in time. A backend that is
 * down, hangs or throws is reported in its `BackendListing`, never thrown.
 */
export function listAllResources(
  providers: readonly VmBackendProvider[],
  options: ListOptions = {},
): Promise<BackendListing[]> {
  return Promise.all(providers.map((p) => listOne(p, options)));
}
