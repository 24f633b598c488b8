import type { ProviderCapacity } from '../../core/provider.js';

const BYTES_PER_MIB = 1024 * 1024;

/**
 * A Docker engine's capacity from `docker info` (pure). The engine reports totals only
 * (`NCPU`, `MemTotal`) and containers reserve nothing unless limited, so free is the total and
 * what this run placed there is what placement subtracts.
 */
export function engineCapacity(info: { NCPU?: unknown; MemTotal?: unknown }): ProviderCapacity {
  const total = {
    memoryMiB: Math.floor(Number(info.MemTotal ?? 0) / BYTES_PER_MIB) || 0,
    vcpus: Number(info.NCPU ?? 0) || 0,
  };
  return { total, free: { ...total } };
}
