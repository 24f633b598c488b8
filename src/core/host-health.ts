import { HostUnreachableError } from './errors.js';
import type { ProviderHealth } from './provider.js';

/**
 * The health of a configured host that did not answer: its own `HostUnreachableError` already
 * names it and says what to do; any other error gets the provider's setup hint.
 */
export function unreachableHealth(
  host: { id: string; uri: string; setupHint: string },
  error: unknown,
): ProviderHealth {
  const warning =
    error instanceof HostUnreachableError
      ? error.message.replace('\n  Fix: ', ' Fix: ')
      : `${host.id} at ${host.uri} did not answer: ${(error as Error).message.split('\n')[0]}. ${host.setupHint}`;
  return { healthy: false, resources: { vmsAvailable: 0, vmsRunning: 0 }, warnings: [warning] };
}
