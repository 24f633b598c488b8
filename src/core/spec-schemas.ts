import { types } from 'node:util';
import { z } from 'zod';
import type { FileSpec, MachineNetwork, PrepareSpec, WaitStrategy } from './provider.js';

const tcpPort = (what: string) =>
  z
    .number(`must be a ${what} port number`)
    .int(`must be a whole ${what} port number`)
    .min(1, `must be a TCP port (1-65535)`)
    .max(65_535, `must be a TCP port (1-65535)`);

/** One guest port to forward, after validation: always the object form. */
export interface ForwardedPort {
  /** Port inside the machine. */
  guest: number;
  /** Fixed port on 127.0.0.1; absent means a free one is chosen. */
  host?: number | undefined;
}

/** `ports`: numbers or `{ guest, host? }`; a guest port asked twice is an error. */
export const portSpecsSchema = z
  .array(
    z.union(
      [
        tcpPort('guest'),
        z.strictObject({ guest: tcpPort('guest'), host: tcpPort('host').optional() }),
      ],
      {
        message: 'must be a port number or { guest, host? }',
      },
    ),
  )
  .transform((ports, ctx): ForwardedPort[] => {
    const normal = ports.map((p) => (typeof p === 'number' ? { guest: p } : p));
    const seen = new Set<number>();
    normal.forEach((p, index) => {
      if (seen.has(p.guest)) {
        ctx.addIssue({
          code: 'custom',
          path: [index],
          message: `guest port ${p.guest} is asked twice; list each port once`,
        });
      }
      seen.add(p.guest);
    });
    return normal;
  });

const mode = z
  .number('must be a file mode such as 0o644')
  .int('must be a file mode such as 0o644')
  .min(0, 'must be a file mode such as 0o644')
  .max(0o7777, 'must be a file mode such as 0o644');
const target = z
  .string('must be an absolute guest path')
  .regex(/^\/.*[^/]$|^\/[^/]+$/, 'must be an absolute guest path such as /srv/app/config.json');

/** `files`: `{ source, target, mode? }` (a host file or directory) or `{ content, target, mode? }`. */
export const fileSpecsSchema = z.array(
  z.union(
    [
      z.strictObject({
        source: z.string().min(1, 'must be a host path'),
        target,
        mode: mode.optional(),
      }),
      z.strictObject({
        content: z.union([
          z.string(),
          // Of any realm: Jest's test files run in a vm context of their own.
          z.custom<Uint8Array>((value) => types.isUint8Array(value), 'must be a Uint8Array'),
        ]),
        target,
        mode: mode.optional(),
      }),
    ],
    { message: 'must be { source, target, mode? } or { content, target, mode? }' },
  ),
) as z.ZodType<FileSpec[]>;

const isStrategy = (value: unknown): value is WaitStrategy =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as WaitStrategy).check === 'function' &&
  typeof (value as WaitStrategy).description === 'string';

/** One wait strategy, such as `Wait.forHttp(8080)`. */
export const waitStrategySchema = z.custom<WaitStrategy>(
  isStrategy,
  'must be a wait strategy such as Wait.forHttp(8080)',
);

/** `waitFor`: one strategy or a list, all of which must hold. */
export const waitForSchema = z
  .union([waitStrategySchema, z.array(waitStrategySchema)], {
    message: 'must be a wait strategy such as Wait.forHttp(8080), or a list of them',
  })
  .transform((value): WaitStrategy[] => (Array.isArray(value) ? value : [value]));

/** `prepare`: files, then commands, cached by content (see `PrepareSpec`). */
export const prepareSchema = z
  .strictObject({
    files: fileSpecsSchema.optional(),
    run: z
      .union([z.string().min(1), z.array(z.string().min(1, 'must be a shell command'))], {
        message: 'must be a shell command or a list of them',
      })
      .optional(),
    key: z.string('must be a string, e.g. the version of what the commands install').optional(),
  })
  .refine((p) => (p.files?.length ?? 0) > 0 || (p.run?.length ?? 0) > 0, {
    message: 'must have files or run steps',
  }) as z.ZodType<PrepareSpec>;

/** The spec options every provider shares for deploying: validated the same way everywhere. */
export const deploySpecShape = {
  ports: portSpecsSchema.optional(),
  files: fileSpecsSchema.optional(),
  prepare: prepareSchema.optional(),
  waitFor: waitForSchema.optional(),
};

/** A dotted-quad IPv4 address. */
export const IPV4_ADDRESS = /^((25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(25[0-5]|2[0-4]\d|1?\d?\d)$/;

const HOST_NAME =
  /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

/** `hosts`: extra `/etc/hosts` lines, name → IPv4 address. */
export const hostsSchema = z
  .record(
    z.string().regex(HOST_NAME, 'must be a hostname'),
    z.string().regex(IPV4_ADDRESS, 'must be an IPv4 address such as 10.213.7.12'),
  )
  .optional();

/** A static address with its prefix length, `10.213.7.11/24`. */
export const ipv4CidrSchema = z.string().refine((value) => {
  const [address, prefix, ...rest] = value.split('/');
  return (
    rest.length === 0 &&
    IPV4_ADDRESS.test(address ?? '') &&
    /^\d+$/.test(prefix ?? '') &&
    Number(prefix) >= 8 &&
    Number(prefix) <= 30
  );
}, 'must be an IPv4 address with a prefix length, such as 10.213.7.11/24');

/** Whether `value` is a network from a provisioner's `createNetwork()`. */
export const isMachineNetwork = (value: unknown): value is MachineNetwork =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as MachineNetwork).name === 'string' &&
  typeof (value as MachineNetwork).providerId === 'string';
