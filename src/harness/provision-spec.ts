import type { MachineSpec } from '../core/provider.js';

/** A provisioning spec with the run-wide bound and the signal filled in where the spec has none. */
export function provisionSpec(
  spec: MachineSpec,
  timeoutMs: number | undefined,
  signal?: AbortSignal,
): MachineSpec {
  const out: MachineSpec = { ...spec };
  const bound = spec.timeoutMs ?? timeoutMs;
  if (bound !== undefined) out.timeoutMs = bound;
  if (signal && !spec.signal) out.signal = signal;
  return out;
}
