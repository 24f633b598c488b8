import { type CapabilityString, formatCapability, parseNeeds } from '../core/capabilities.js';

/** The needs of a `@testbed-needs SerialConsole,CloneVm` docblock pragma; throws on unknown names. */
export function parseNeedsPragma(
  value: string | readonly string[] | undefined,
): CapabilityString[] {
  if (value === undefined) return [];
  const raw = (typeof value === 'string' ? [value] : value)
    .flatMap((v) => v.split(/[,\s]+/))
    .filter(Boolean);
  return parseNeeds(raw).map(formatCapability);
}
