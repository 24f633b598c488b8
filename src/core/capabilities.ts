import { z } from 'zod';
import { didYouMean } from './did-you-mean.js';
import { InvalidCapabilityError } from './errors.js';

/** Kinds of machine a provider manages. */
export const VM_TYPES = ['FullVirt', 'Container'] as const;

/** Kind of machine: a full virtual machine or a container. */
export type VmType = (typeof VM_TYPES)[number];

/** Capability names that take no argument. */
export const SIMPLE_CAPABILITIES = [
  'ProvisionVm',
  'CloneVm',
  'SerialConsole',
  'HealthMonitoring',
  'NetworkOverlay',
  'DiskOverlay',
  'SshAccess',
  'Exec',
  'Snapshot',
  'WarmSnapshot',
  'FileTransfer',
  'PortForward',
  'PauseResume',
  'NetworkFaults',
  'PowerControl',
  'SharedBridge',
] as const;

/** A capability name that takes no argument, such as `SerialConsole`. */
export type SimpleCapabilityName = (typeof SIMPLE_CAPABILITIES)[number];

/** A capability a backend offers, in its parsed form. */
export type VmCapability =
  | { readonly kind: SimpleCapabilityName }
  | { readonly kind: 'VmType'; readonly type: VmType }
  | { readonly kind: 'Custom'; readonly name: string };

/** A capability as users write it: `'SerialConsole'`, `'VmType(FullVirt)'`, `'Custom(gpu)'`. */
export type CapabilityString = SimpleCapabilityName | `VmType(${VmType})` | `Custom(${string})`;

/** Anything `parseCapability` accepts: the string form or the object form. */
export type CapabilityInput = CapabilityString | VmCapability;

/** Every valid capability spelling except `Custom(...)`, for error messages and completion. */
export const CAPABILITY_NAMES: readonly string[] = [
  ...SIMPLE_CAPABILITIES,
  ...VM_TYPES.map((t) => `VmType(${t})`),
];

const CUSTOM_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/-]*$/;
const FORM = /^([A-Za-z]+)\((.*)\)$/;

function fail(input: unknown, reason: string, suggestion?: string): never {
  const hint = suggestion ? ` Did you mean '${suggestion}'?` : '';
  throw new InvalidCapabilityError(
    input,
    `Unknown capability ${JSON.stringify(input)}: ${reason}.${hint}`,
    {
      fix: `Use one of ${CAPABILITY_NAMES.join(', ')}, or Custom(<name>).`,
    },
  );
}

function parseString(raw: string): VmCapability {
  const input = raw.trim();
  if ((SIMPLE_CAPABILITIES as readonly string[]).includes(input)) {
    return { kind: input as SimpleCapabilityName };
  }
  const form = FORM.exec(input);
  if (form) {
    const [, head = '', arg = ''] = form;
    const value = arg.trim();
    if (head === 'VmType') {
      if ((VM_TYPES as readonly string[]).includes(value))
        return { kind: 'VmType', type: value as VmType };
      fail(raw, `VmType takes one of ${VM_TYPES.join(', ')}`, didYouMean(input, CAPABILITY_NAMES));
    }
    if (head === 'Custom') {
      if (CUSTOM_NAME.test(value)) return { kind: 'Custom', name: value };
      fail(raw, 'a Custom name is letters, digits and . _ : / - (and not empty)');
    }
    fail(
      raw,
      `'${head}(...)' is not a capability form`,
      didYouMean(input, [...CAPABILITY_NAMES, 'Custom(...)']),
    );
  }
  fail(raw, 'not a capability name', didYouMean(input, CAPABILITY_NAMES));
}

/** Parses a capability from its string or object form; throws `InvalidCapabilityError` naming the valid names. */
export function parseCapability(input: unknown): VmCapability {
  if (typeof input === 'string') return parseString(input);
  if (typeof input === 'object' && input !== null && 'kind' in input) {
    const { kind } = input as { kind: unknown };
    if (kind === 'VmType')
      return parseString(`VmType(${String((input as { type?: unknown }).type)})`);
    if (kind === 'Custom')
      return parseString(`Custom(${String((input as { name?: unknown }).name)})`);
    if (typeof kind === 'string') return parseString(kind);
  }
  return fail(
    input,
    'expected a string such as "SerialConsole" or an object such as { kind: "SerialConsole" }',
  );
}

/** Formats a capability as its canonical string: `parseCapability(formatCapability(c))` equals `c`. */
export function formatCapability(cap: VmCapability): CapabilityString {
  switch (cap.kind) {
    case 'VmType':
      return `VmType(${cap.type})`;
    case 'Custom':
      return `Custom(${cap.name})`;
    default:
      return cap.kind;
  }
}

/** True when two capabilities are the same. */
export function capabilityEquals(a: VmCapability, b: VmCapability): boolean {
  return formatCapability(a) === formatCapability(b);
}

/** The needed capabilities that `offered` does not cover, in the order they were needed. */
export function missingCapabilities(
  offered: readonly VmCapability[],
  needs: readonly VmCapability[],
): VmCapability[] {
  const have = new Set(offered.map(formatCapability));
  return needs.filter((need) => !have.has(formatCapability(need)));
}

/** Zod schema for one capability (string or object form) that outputs the parsed `VmCapability`. */
export const capabilitySchema = z.unknown().transform((input, ctx): VmCapability => {
  try {
    return parseCapability(input);
  } catch (error) {
    ctx.addIssue({
      code: 'custom',
      message: (error as Error).message.split('\n')[0] ?? String(error),
    });
    return z.NEVER;
  }
});

/** Zod schema for a list of needs; every bad entry is reported, not just the first. */
export const needsSchema = z.array(capabilitySchema);

/** Parses a list of needs; all bad entries are reported together in one error. */
export function parseNeeds(needs: readonly unknown[]): VmCapability[] {
  const problems: string[] = [];
  const parsed: VmCapability[] = [];
  needs.forEach((need, index) => {
    try {
      parsed.push(parseCapability(need));
    } catch (error) {
      problems.push(`  - needs[${index}]: ${(error as Error).message.split('\n')[0]}`);
    }
  });
  if (problems.length > 0) {
    throw new InvalidCapabilityError(needs, `Invalid needs:\n${problems.join('\n')}`, {
      fix: `Use one of ${CAPABILITY_NAMES.join(', ')}, or Custom(<name>).`,
    });
  }
  return parsed;
}
