import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { defaultLibvirtUri, hostLibvirtAccess, type LibvirtAccess } from './default-libvirt-uri.js';
import { ConfigError, type ValidationProblem } from './errors.js';
import { type HostEntry, hostsVariableSchema } from './hosts.js';

/** testbed's configuration, read from the environment. */
export interface TestbedConfig {
  /** libvirt connection URI. */
  libvirtUri: string;
  /** SSH port inside guests. */
  sshPort: number;
  /** Image cache directory. */
  baseImagePath: string;
  /** Directory for per-run state: overlays, seeds, keys, logs, run manifests. */
  stateDir: string;
  /** Provider ids to use, in order of preference; undefined means all, in registration order. */
  providers: string[] | undefined;
  /** Upper bound for each provider's availability and health check, in ms. */
  timeoutMs: number;
  /** VMs allowed to boot at once on this host; undefined means derived from cores, memory and accelerator. */
  maxBoots: number | undefined;
  /** Test-scoped VMs start from warm templates (memory snapshots) where the provider offers them. */
  warm: boolean;
  /** Engines on this and other machines to provision on (`TESTBED_HOSTS`); undefined means only the local defaults. */
  hosts: HostEntry[] | undefined;
  /** Warm templates kept across runs, one directory per template. */
  templateDir: string;
  /** `testbed gc` keeps the templates within this many MiB, least recently used removed first. */
  templateMaxMiB: number;
  /** `testbed gc` removes templates unused for this many days. */
  templateMaxAgeDays: number;
  /** Paused restores kept ready per warm template and run, leased to the next test (0: none); undefined means one per core, at most 4. */
  standby: number | undefined;
}

/** Environment variable names read by `loadConfig`, each with its older alias if any. */
export const CONFIG_VARIABLES = {
  libvirtUri: ['TESTBED_LIBVIRT_URI', 'BENCHSCALE_LIBVIRT_URI'],
  sshPort: ['TESTBED_SSH_PORT', 'BENCHSCALE_SSH_PORT'],
  baseImagePath: ['TESTBED_BASE_IMAGE_PATH', 'BENCHSCALE_BASE_IMAGE_PATH'],
  stateDir: ['TESTBED_STATE_DIR'],
  providers: ['TESTBED_PROVIDERS'],
  timeoutMs: ['TESTBED_TIMEOUT_MS'],
  maxBoots: ['TESTBED_MAX_BOOTS'],
  warm: ['TESTBED_WARM'],
  hosts: ['TESTBED_HOSTS'],
  templateDir: ['TESTBED_TEMPLATE_DIR'],
  templateMaxMiB: ['TESTBED_TEMPLATE_MAX_MIB'],
  templateMaxAgeDays: ['TESTBED_TEMPLATE_MAX_AGE_DAYS'],
  standby: ['TESTBED_STANDBY'],
} as const satisfies Record<keyof TestbedConfig, readonly string[]>;

/** Where testbed keeps caches: root uses /var, because libvirt's qemu user cannot enter /root. */
function defaultCacheRoot(env: NodeJS.ProcessEnv, uid: number | undefined): string {
  if (uid === 0) return '/var/cache/testbed';
  return join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache'), 'testbed');
}

const integer = (min: number, max: number, what: string) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `must be ${what}, a whole number`)
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

/** A provider id: a backend, and `@host` for an instance from TESTBED_HOSTS. */
export const PROVIDER_ID = /^[a-z][a-z0-9-]*(@[a-z0-9][a-z0-9.-]*)?$/;

/** Kernel pseudo-filesystems: nothing can be stored there (and Node's recursive mkdir spins on /proc). */
const PSEUDO_FS = ['/proc', '/sys', '/dev'];

const directory = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .refine(
    (path) => {
      const absolute = resolve(path);
      return !PSEUDO_FS.some((fs) => absolute === fs || absolute.startsWith(`${fs}/`));
    },
    `is on a kernel pseudo-filesystem (${PSEUDO_FS.join(', ')}); choose a directory on a disk`,
  );

const fields = {
  libvirtUri: z
    .string()
    .trim()
    .regex(/^[a-z][a-z0-9+]*:\/\/[^\s]*$/, 'must be a libvirt URI such as qemu:///system'),
  sshPort: integer(1, 65535, 'a TCP port'),
  baseImagePath: directory,
  stateDir: directory,
  providers: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean),
    )
    .pipe(
      z
        .array(
          z
            .string()
            .regex(PROVIDER_ID, 'provider ids are lowercase, e.g. libvirt,docker,libvirt@host2'),
        )
        .min(1, 'must list at least one provider id, e.g. libvirt,docker'),
    ),
  timeoutMs: integer(1, 3_600_000, 'milliseconds'),
  maxBoots: integer(1, 256, 'a number of VMs'),
  warm: z
    .string()
    .trim()
    .toLowerCase()
    .pipe(
      z.enum(['0', '1', 'false', 'true'], 'must be 1/true (warm starts) or 0/false (boot cold)'),
    )
    .transform((s) => s === '1' || s === 'true'),
  hosts: hostsVariableSchema,
  templateDir: directory,
  templateMaxMiB: integer(1, 16 * 1024 * 1024, 'a size in MiB'),
  templateMaxAgeDays: integer(1, 3650, 'a number of days'),
  standby: integer(0, 16, 'a number of machines'),
};

/**
 * Reads and validates testbed's configuration from `env`. TESTBED_* wins over the BENCHSCALE_*
 * aliases; every bad variable is reported in one `ConfigError`. Without a libvirt URI set (nor
 * libvirt's own LIBVIRT_DEFAULT_URI), a user the system daemon does not let in gets qemu:///session.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  uid: number | undefined = process.getuid?.(),
  libvirtAccess: () => LibvirtAccess = hostLibvirtAccess,
): TestbedConfig {
  const cacheRoot = defaultCacheRoot(env, uid);
  const defaults: Record<keyof TestbedConfig, string | undefined> = {
    libvirtUri: env.LIBVIRT_DEFAULT_URI || defaultLibvirtUri(uid, libvirtAccess),
    sshPort: '22',
    baseImagePath: join(cacheRoot, 'images'),
    stateDir: join(cacheRoot, 'runs'),
    providers: undefined,
    timeoutMs: '5000',
    maxBoots: undefined,
    warm: '1',
    hosts: undefined,
    templateDir: join(cacheRoot, 'templates'),
    templateMaxMiB: '8192',
    templateMaxAgeDays: '14',
    standby: undefined,
  };
  const problems: ValidationProblem[] = [];
  const config: Record<string, unknown> = {};
  for (const key of Object.keys(fields) as (keyof TestbedConfig)[]) {
    const names: readonly string[] = CONFIG_VARIABLES[key];
    const name = names.find((n) => env[n] !== undefined && env[n] !== '');
    const raw = name ? env[name] : defaults[key];
    if (raw === undefined) {
      config[key] = undefined;
      continue;
    }
    const result = fields[key].safeParse(raw);
    if (result.success) config[key] = result.data;
    else {
      for (const issue of result.error.issues) {
        // A list's issue is about one entry, which its message already quotes.
        const index = issue.path.find((p) => typeof p === 'number');
        problems.push(
          index === undefined
            ? { path: name ?? key, message: `${issue.message} (got ${JSON.stringify(raw)})` }
            : { path: `${name ?? key}[${index}]`, message: issue.message },
        );
      }
    }
  }
  if (problems.length > 0) {
    throw new ConfigError(problems, {
      subject: 'testbed environment',
      fix: 'Correct or unset the variables above; `npx testbed doctor --help` lists them all.',
    });
  }
  return config as unknown as TestbedConfig;
}
