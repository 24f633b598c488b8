import { z } from 'zod';
import { type CapabilityString, capabilitySchema, formatCapability } from '../core/capabilities.js';
import { PROVIDER_ID } from '../core/config.js';
import { didYouMean } from '../core/did-you-mean.js';
import { ConfigError, type ValidationProblem } from '../core/errors.js';
import { type HostEntry, hostListSchema } from '../core/hosts.js';
import { checkTopology } from './topology-plan.js';

/** What to do with a test whose needs no available provider meets. */
export type OnUnmet = 'skip' | 'fail';

/** Provisioning options a machine declared in config may carry (plain data only). */
export interface DeclaredMachineSpec {
  /** Image name from the image cache or a path (VMs), an image reference (containers). */
  image?: string;
  /** Name hint; the provider adds a unique suffix. */
  name?: string;
  /** Memory in MiB. */
  memoryMiB?: number;
  /** Virtual CPUs. */
  vcpus?: number;
  /** Hostname inside the machine. */
  hostname?: string;
  /** Upper bound on provisioning, readiness included. */
  timeoutMs?: number;
  /** Backend-specific options, validated by the provider. */
  [backendOption: string]: unknown;
}

/** A run-scoped machine declared in config: provisioned once per run, shared by every test. */
export interface MachineDeclaration {
  /** Capabilities the machine must offer. */
  needs: readonly CapabilityString[];
  /** Provisioning options. */
  spec?: DeclaredMachineSpec;
}

/** Options of the `testbed()` Vitest plugin and of the Jest global setup. */
export interface TestbedOptions {
  /** Run-scoped machines by name, provisioned in declaration order before any test runs. */
  machines?: Record<string, MachineDeclaration>;
  /**
   * Isolated networks of run-scoped machines, each listing its members: those are provisioned
   * together, in parallel, and reach each other by name (as a test's `machines`/`networks`).
   */
  networks?: Record<string, readonly string[]>;
  /** Unmet needs skip the test (default) or fail it; either way with the reason and the fix. */
  onUnmet?: OnUnmet;
  /** Keep a failed test's machine overlay and logs on disk, and print where. Default false. */
  keepOnFailure?: boolean;
  /** Upper bound on provisioning one machine, in ms. Default: the provider's own bound. */
  timeoutMs?: number;
  /** Provider ids to use, best first (overrides TESTBED_PROVIDERS). */
  providers?: readonly string[];
  /**
   * Module (path relative to the project root, or a package) whose default export is a
   * `defineTestbedRegistry(...)` factory, to use your own providers. Default: the built-in ones.
   */
  registry?: string;
  /**
   * Test-scoped machines start from a warm template (a memory snapshot, restored in about a
   * second) where the provider offers `WarmSnapshot`. Default: TESTBED_WARM, else true.
   */
  warm?: boolean;
  /**
   * Engines to provision on, as `[name=]backend:uri` entries such as
   * `host2=libvirt:qemu+ssh://ci@host2/system` (overrides TESTBED_HOSTS). Default: the local ones.
   */
  hosts?: readonly string[];
}

/** `TestbedOptions` after validation, with defaults applied and needs in canonical form. */
export interface ResolvedTestbedOptions {
  /** Run-scoped machines, in declaration order. */
  machines: { name: string; needs: CapabilityString[]; spec: DeclaredMachineSpec }[];
  /** See `TestbedOptions.networks`. */
  networks: Record<string, string[]>;
  /** See `TestbedOptions.onUnmet`. */
  onUnmet: OnUnmet;
  /** See `TestbedOptions.keepOnFailure`. */
  keepOnFailure: boolean;
  /** See `TestbedOptions.timeoutMs`. */
  timeoutMs: number | undefined;
  /** See `TestbedOptions.providers`. */
  providers: string[] | undefined;
  /** See `TestbedOptions.registry`. */
  registry: string | undefined;
  /** See `TestbedOptions.warm`; undefined leaves it to TESTBED_WARM. */
  warm: boolean | undefined;
  /** See `TestbedOptions.hosts`; undefined leaves it to TESTBED_HOSTS. */
  hosts: HostEntry[] | undefined;
}

const specSchema = z.looseObject({
  image: z.string().min(1).optional(),
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]*$/, 'lowercase letters, digits and -')
    .optional(),
  memoryMiB: z.number().int().min(16).optional(),
  vcpus: z.number().int().min(1).optional(),
  hostname: z.string().min(1).optional(),
  timeoutMs: z.number().int().positive().optional(),
});

const machineSchema = z.strictObject({
  needs: z.array(capabilitySchema.transform(formatCapability)),
  spec: specSchema.optional(),
});

const OPTION_NAMES = [
  'machines',
  'networks',
  'onUnmet',
  'keepOnFailure',
  'timeoutMs',
  'providers',
  'registry',
  'warm',
  'hosts',
];
const MACHINE_OPTION_NAMES = ['needs', 'spec'];

/** Zod schema of the plugin options; strict, so a misspelled option is an error naming it. */
export const testbedOptionsSchema = z.strictObject({
  machines: z
    .record(
      z
        .string()
        .regex(
          /^[A-Za-z][A-Za-z0-9_-]*$/,
          'a machine name is a letter, then letters, digits, _ or -',
        ),
      machineSchema,
    )
    .default({}),
  networks: z.record(z.string(), z.array(z.string())).default({}),
  onUnmet: z.enum(['skip', 'fail']).default('skip'),
  keepOnFailure: z.boolean().default(false),
  timeoutMs: z.number().int().positive().optional(),
  providers: z
    .array(z.string().regex(PROVIDER_ID, 'provider ids are lowercase, e.g. libvirt, docker@host2'))
    .min(1)
    .optional(),
  registry: z.string().min(1).optional(),
  warm: z.boolean().optional(),
  hosts: hostListSchema.optional(),
});

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => {
    if (typeof key === 'number') return `${out}[${key}]`;
    return out ? `${out}.${String(key)}` : String(key);
  }, '');
}

function problemsOf(error: z.ZodError): ValidationProblem[] {
  return error.issues.flatMap((issue): ValidationProblem[] => {
    const path = formatPath(issue.path);
    if (issue.code === 'unrecognized_keys') {
      const known = issue.path.length === 0 ? OPTION_NAMES : MACHINE_OPTION_NAMES;
      return issue.keys.map((key) => {
        const near = didYouMean(key, known);
        return {
          path: path ? `${path}.${key}` : key,
          message: `unknown option${near ? `; did you mean '${near}'?` : ''} (valid: ${known.join(', ')})`,
        };
      });
    }
    return [{ path: path || '(options)', message: issue.message }];
  });
}

/** Validates plugin options; every problem is reported at once in a `ConfigError`. */
export function parseTestbedOptions(input: unknown = {}): ResolvedTestbedOptions {
  const result = testbedOptionsSchema.safeParse(input ?? {});
  if (!result.success) {
    throw new ConfigError(problemsOf(result.error), {
      subject: 'testbed options',
      fix: 'Correct the options passed to testbed(...).',
    });
  }
  const {
    machines,
    networks,
    onUnmet,
    keepOnFailure,
    timeoutMs,
    providers,
    registry,
    warm,
    hosts,
  } = result.data;
  const networked = new Set(Object.values(networks).flat());
  if (networked.size > 0) {
    // Members of networks are hostnames: they follow the topology rules, the others need not.
    checkTopology({
      machines: Object.fromEntries(
        Object.entries(machines)
          .filter(([name]) => networked.has(name))
          .map(([name, m]) => [name, { needs: m.needs, spec: m.spec ?? {} }]),
      ),
      networks,
    });
  }
  return {
    networks,
    machines: Object.entries(machines).map(([name, m]) => ({
      name,
      needs: m.needs,
      spec: (m.spec ?? {}) as DeclaredMachineSpec,
    })),
    onUnmet,
    keepOnFailure,
    timeoutMs,
    providers,
    registry,
    warm,
    hosts,
  };
}
