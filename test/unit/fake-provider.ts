import { parseNeeds, type VmType } from '../../src/core/capabilities.js';
import type { ProviderHealth, VmBackendProvider, VmProvisioner } from '../../src/core/provider.js';

/** Options for a fake provider: how it answers discovery. */
export interface FakeProviderOptions {
  id: string;
  capabilities?: string[];
  vmType?: VmType;
  available?: boolean | 'throw' | 'hang';
  healthy?: boolean | 'throw' | 'hang';
  delayMs?: number;
  /** `details` of its health answer. */
  details?: ProviderHealth['details'];
}

function answer<T>(value: T | 'throw' | 'hang', delayMs: number, signal?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (value === 'hang') return; // ignores its signal on purpose: the registry must not wait for it
    const timer = setTimeout(() => {
      if (value === 'throw') reject(new Error('backend exploded'));
      else resolve(value);
    }, delayMs);
    signal?.addEventListener('abort', () => clearTimeout(timer), { once: true });
  });
}

/** A provider whose discovery answers are scripted; provisioning is not part of these unit tests. */
export function fakeProvider(
  options: FakeProviderOptions,
): VmBackendProvider & { calls: string[] } {
  const calls: string[] = [];
  const delay = options.delayMs ?? 0;
  return {
    calls,
    id: options.id,
    name: `Fake ${options.id}`,
    setupHint: `start the ${options.id} daemon`,
    isAvailable(signal) {
      calls.push('isAvailable');
      return answer(options.available ?? true, delay, signal);
    },
    capabilities: () => parseNeeds(options.capabilities ?? ['ProvisionVm']),
    vmType: () => options.vmType ?? 'FullVirt',
    checkHealth(signal) {
      calls.push('checkHealth');
      const healthy = options.healthy ?? true;
      const health: ProviderHealth = {
        healthy: healthy === true,
        version: '1.0',
        resources: { vmsAvailable: 0, vmsRunning: 0 },
        warnings: healthy === false ? [`${options.id} is degraded: restart it`] : [],
        ...(options.details ? { details: options.details } : {}),
      };
      return answer(typeof healthy === 'boolean' ? health : healthy, delay, signal);
    },
    createProvisioner(): Promise<VmProvisioner> {
      return Promise.reject(new Error('not used in unit tests'));
    },
  };
}
