import { z } from 'zod';
import { didYouMean } from '../../core/did-you-mean.js';
import { InvalidSpecError, type ValidationProblem } from '../../core/errors.js';
import type { MachineNetwork, MachineSpec, NetworkAttachment } from '../../core/provider.js';
import {
  deploySpecShape,
  hostsSchema,
  ipv4CidrSchema,
  isMachineNetwork as isNetwork,
} from '../../core/spec-schemas.js';

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const HOSTNAME = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A network a container joins: its address on it (Docker's IPAM) and extra names, if given. */
export interface DockerAttachment {
  /** The Docker network. */
  network: MachineNetwork;
  /** Static IPv4 address, without the prefix length. */
  address?: string;
  /** Names besides the container's own that others on the network reach it by. */
  aliases: readonly string[];
}

const networkSchema = z
  .unknown()
  .superRefine((value, ctx) => {
    const network = isNetwork(value) ? value : (value as NetworkAttachment | null)?.network;
    if (!isNetwork(network)) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be a network from createNetwork(), or { network, address, aliases }',
      });
    } else if (network.providerId !== 'docker') {
      ctx.addIssue({
        code: 'custom',
        message: `belongs to provider '${network.providerId}'; use a network of the docker provider`,
      });
    } else if (!isNetwork(value)) {
      const address = (value as NetworkAttachment).address;
      if (address !== undefined && !ipv4CidrSchema.safeParse(address).success) {
        ctx.addIssue({
          code: 'custom',
          message: `address ${JSON.stringify(address)} must be an IPv4 address with a prefix length, such as 10.213.7.11/24`,
        });
      }
    }
  })
  .transform((value): DockerAttachment => {
    if (isNetwork(value)) return { network: value, aliases: [] };
    const { network, address, aliases } = value as NetworkAttachment;
    return {
      network,
      ...(address === undefined ? {} : { address: address.replace(/\/\d+$/, '') }),
      aliases: aliases ?? [],
    };
  });

/** Zod schema of the machine spec the Docker provider accepts; unknown keys are errors. */
export const dockerSpecSchema = z.strictObject({
  image: z
    .string()
    .trim()
    .min(1, 'must be an image reference such as testbed/tiny:<hash>')
    .optional(),
  name: z
    .string()
    .max(40, 'must be at most 40 characters')
    .regex(NAME, 'must be letters, digits, and . _ - (starting with a letter or digit)')
    .optional(),
  memoryMiB: z
    .int('must be a whole number of MiB')
    .min(6, 'Docker needs at least 6 MiB')
    .optional(),
  vcpus: z.number().positive('must be more than 0').max(1024).optional(),
  hostname: z
    .string()
    .regex(HOSTNAME, 'must be a valid hostname label (letters, digits, -)')
    .optional(),
  networks: z.array(networkSchema).optional(),
  /** Extra `/etc/hosts` lines (`--add-host`): name → IPv4 address. */
  hosts: hostsSchema,
  timeoutMs: z.int('must be whole milliseconds').positive('must be more than 0').optional(),
  signal: z.instanceof(AbortSignal, { message: 'must be an AbortSignal' }).optional(),
  /** Container ports published on 127.0.0.1 (free host ports, or the `host` one), files put in place before the command starts, conditions waited for. */
  ...deploySpecShape,
  /** Environment variables of the container's main process. */
  env: z
    .record(z.string().regex(ENV_NAME, 'must be a variable name such as MY_VAR'), z.string())
    .optional(),
  /** Replaces the image's command. */
  command: z.array(z.string()).min(1, 'must not be empty').optional(),
  /** Replaces the image's entrypoint. */
  entrypoint: z.array(z.string()).min(1, 'must not be empty').optional(),
  /** Ready when the log shows this; default for the tiny image is its readiness line. */
  readyLog: z
    .union([
      z.string().min(1, 'must not be empty'),
      z.instanceof(RegExp, { message: 'must be a string or RegExp' }),
    ])
    .optional(),
  /** Extra names other machines on the same networks reach this one by. */
  aliases: z.array(z.string().regex(HOSTNAME, 'must be a valid hostname label')).optional(),
});

/** A machine spec after validation by the Docker provider. */
export type DockerSpec = z.infer<typeof dockerSpecSchema>;

/** Keys a Docker machine spec may hold, for typo hints. */
export const DOCKER_SPEC_KEYS: readonly string[] = Object.keys(dockerSpecSchema.shape);

function pathOf(issue: z.core.$ZodIssue): string {
  return issue.path.length === 0
    ? 'spec'
    : issue.path
        .map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`))
        .join('');
}

/** Validates a spec for the Docker provider; throws `InvalidSpecError` listing every problem at once. */
export function parseDockerSpec(spec: MachineSpec | undefined): DockerSpec {
  const result = dockerSpecSchema.safeParse(spec ?? {});
  if (result.success) return result.data;
  const problems: ValidationProblem[] = [];
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const hint = didYouMean(key, DOCKER_SPEC_KEYS);
        problems.push({
          path: key,
          message: `unknown option for the docker provider${hint ? ` (did you mean '${hint}'?)` : ''}`,
        });
      }
    } else {
      problems.push({ path: pathOf(issue), message: issue.message });
    }
  }
  throw new InvalidSpecError(problems, {
    fix: `Correct the options above; the docker provider accepts ${DOCKER_SPEC_KEYS.join(', ')}.`,
  });
}
