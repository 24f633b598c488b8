import { z } from 'zod';
import { didYouMean } from '../../core/did-you-mean.js';
import { InvalidSpecError } from '../../core/errors.js';
import type { MachineNetwork, MachineSpec, NetworkAttachment } from '../../core/provider.js';
import {
  deploySpecShape,
  hostsSchema,
  ipv4CidrSchema,
  isMachineNetwork as isNetwork,
} from '../../core/spec-schemas.js';

/** The image a VM boots when the spec names none. */
export const DEFAULT_VM_IMAGE = 'tiny-vm';

/** A libvirt network a VM joins, with the static address its NIC takes, if any. */
export interface LibvirtAttachment {
  /** The network, from the libvirt provisioner. */
  network: MachineNetwork;
  /** IPv4 address with prefix length. */
  address?: string;
}

const label = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;
const labelMessage = 'must be 1-32 lowercase letters, digits and inner hyphens (it names a domain)';

const schema = z
  .object({
    image: z
      .string()
      .trim()
      .min(1, 'must name a cached image or a qcow2 path')
      .default(DEFAULT_VM_IMAGE),
    name: z.string().regex(label, labelMessage).optional(),
    hostname: z
      .string()
      .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a hostname label (RFC 1123)')
      .optional(),
    memoryMiB: z
      .number('must be a number of MiB')
      .int('must be a whole number of MiB')
      .min(64, 'must be at least 64 MiB')
      .max(65_536, 'must be at most 65536 MiB')
      .default(256),
    vcpus: z
      .number('must be a number')
      .int('must be a whole number')
      .min(1, 'must be at least 1')
      .max(64, 'must be at most 64')
      .default(1),
    networks: z
      .array(
        z
          .custom<MachineNetwork | NetworkAttachment>((value) => {
            const network = isNetwork(value) ? value : (value as NetworkAttachment)?.network;
            return isNetwork(network) && network.providerId === 'libvirt';
          }, 'must be networks made by the libvirt provisioner (createNetwork()), plain or as { network, address }')
          .transform(
            (value): LibvirtAttachment =>
              isNetwork(value)
                ? { network: value }
                : {
                    network: value.network,
                    ...(value.address === undefined ? {} : { address: value.address }),
                  },
          )
          .refine(
            (value) =>
              value.address === undefined || ipv4CidrSchema.safeParse(value.address).success,
            'address must be an IPv4 address with a prefix length, such as 10.213.7.11/24',
          ),
      )
      .max(8, 'at most 8 extra networks')
      .default([]),
    hosts: hostsSchema,
    timeoutMs: z
      .number('must be milliseconds')
      .int('must be whole milliseconds')
      .positive('must be positive')
      .max(3_600_000, 'must be at most one hour')
      .default(180_000),
    signal: z.instanceof(AbortSignal, { message: 'must be an AbortSignal' }).optional(),
    kernel: z.string().min(1, 'must be a kernel file path').optional(),
    initrd: z.string().min(1, 'must be an initrd file path').optional(),
    cmdline: z.string().max(4096, 'must be at most 4096 characters').optional(),
    sshUser: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be a Unix user name')
      .optional(),
    userData: z
      .union([z.string(), z.record(z.string(), z.unknown())], {
        message: 'must be a cloud-config object or a #cloud-config / #! string',
      })
      .optional(),
    waitForCloudInit: z.boolean('must be true or false').optional(),
    readyPattern: z
      .union([z.string().min(1), z.instanceof(RegExp), z.null()], {
        message: 'must be a string, a RegExp, or null to wait for SSH only',
      })
      .optional(),
    diskGiB: z
      .number('must be a number of GiB')
      .int('must be a whole number of GiB')
      .min(1, 'must be at least 1 GiB')
      .max(2048, 'must be at most 2048 GiB')
      .optional(),
    outbound: z.boolean('must be true or false').default(false),
    ...deploySpecShape,
  })
  .strict()
  .superRefine((spec, ctx) => {
    if (spec.cmdline !== undefined && spec.kernel === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['cmdline'],
        message:
          'only applies with kernel (direct kernel boot); an image that boots from its disk takes its command line from its bootloader',
      });
    }
  });

/** Keys a libvirt machine spec may hold, for typo hints. */
const LIBVIRT_SPEC_KEYS: readonly string[] = Object.keys(schema.shape);

/** A machine spec after validation, with defaults filled in. */
export type LibvirtVmSpec = z.output<typeof schema>;

/** Options the libvirt provider understands on top of `MachineSpec`. */
export interface LibvirtMachineSpec extends MachineSpec {
  /** Kernel for direct boot, overriding the image's. */
  kernel?: string;
  /** Initrd for direct boot, overriding the image's. */
  initrd?: string;
  /** Kernel command line, overriding the image's. */
  cmdline?: string;
  /** User to log in as over SSH. Default: the image's (`root` for tiny-vm, `debian` for debian-12; `root` for a plain qcow2). */
  sshUser?: string;
  /** cloud-init user-data merged with testbed's own: a cloud-config object, or a `#cloud-config` / `#!` string. */
  userData?: string | Record<string, unknown>;
  /** Resolve only once `cloud-init status --wait` succeeds. Default: when the image is ready at cloud-init's end. */
  waitForCloudInit?: boolean;
  /** Serial line that means ready (default `testbed-ready <hostname>`); null waits for SSH only. */
  readyPattern?: string | RegExp | null;
  /** Virtual disk size in GiB, when bigger than the image's (the root filesystem grows into it). */
  diskGiB?: number;
  /** Let the guest reach the outside network (NAT, DNS). Default false: only forwarded ports. */
  outbound?: boolean;
}

/** Validates a spec, reporting every problem at once as `InvalidSpecError`. */
export function parseVmSpec(spec: MachineSpec = {}): LibvirtVmSpec {
  const result = schema.safeParse(spec);
  if (result.success) return result.data;
  const valueAt = (path: readonly PropertyKey[]): unknown =>
    path.reduce<unknown>((value, key) => (value as Record<PropertyKey, unknown>)?.[key], spec);
  throw new InvalidSpecError(
    result.error.issues.map((issue) => {
      if (issue.code === 'unrecognized_keys') {
        const hints = issue.keys.map((key) => {
          const hint = didYouMean(key, LIBVIRT_SPEC_KEYS);
          return hint ? `${key} (did you mean '${hint}'?)` : key;
        });
        return { path: '(spec)', message: `unknown option(s) ${hints.join(', ')}` };
      }
      const value = valueAt(issue.path);
      const shown =
        typeof value === 'string' || typeof value === 'number' ? JSON.stringify(value) : undefined;
      return {
        path: issue.path.length > 0 ? issue.path.join('.') : '(spec)',
        message: shown === undefined ? issue.message : `${issue.message} (got ${shown})`,
      };
    }),
    {
      fix: 'Correct the options above; see LibvirtMachineSpec for what the libvirt provider accepts.',
    },
  );
}
