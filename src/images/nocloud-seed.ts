import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { InvalidSpecError } from '../core/errors.js';
import { type RunCommand, runCommand } from '../core/run-command.js';
import { renderCloudUserData, type UserData } from './cloud-user-data.js';
import { requireTools } from './require-tools.js';

/** What a NoCloud seed tells the guest. */
export interface NoCloudSeedOptions {
  /** Where to write the ISO. */
  path: string;
  /** cloud-init's instance id; a new id makes real cloud images re-run their first-boot setup. */
  instanceId: string;
  /** Hostname to set in the guest (RFC 1123). */
  hostname: string;
  /** `authorized_keys` lines for the default user (root on testbed's tiny image) and the login user. */
  authorizedKeys: readonly string[];
  /** The user testbed logs in as, created by cloud-init with the keys and sudo. Default root. */
  loginUser?: string;
  /** The user's own user-data, merged with testbed's (see `renderCloudUserData`). */
  userData?: UserData;
  /** Aborts building the ISO. */
  signal?: AbortSignal;
}

// Values are written as YAML double-quoted scalars, parsed by cloud-init and by the tiny image's
// shell init alike; refusing quotes, backslashes and control characters keeps both parsers honest.
const safeText = /^[^"\\\p{Cc}]+$/u;
const schema = z.object({
  path: z.string().min(1, 'must be a file path'),
  instanceId: z
    .string()
    .regex(safeText, 'must be non-empty text without quotes or control characters'),
  hostname: z
    .string()
    .max(253, 'must be at most 253 characters')
    .regex(
      /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/,
      'must be a hostname: letters, digits and inner hyphens, dot-separated labels of up to 63',
    ),
  authorizedKeys: z
    .array(
      z
        .string()
        .regex(
          /^(ssh|ecdsa|sk)-[A-Za-z0-9@.-]+ [A-Za-z0-9+/]+=* ?[^"\\\p{Cc}]*$/u,
          "must be one authorized_keys line such as 'ssh-ed25519 AAAA... comment'",
        ),
    )
    .min(1, 'must hold at least one public key, or nobody can log in'),
});

/** The `meta-data` file of a NoCloud seed. */
export function renderMetaData(instanceId: string, hostname: string): string {
  return `instance-id: ${JSON.stringify(instanceId)}\nlocal-hostname: ${JSON.stringify(hostname)}\n`;
}

/**
 * Writes a cloud-init NoCloud seed: an ISO9660 volume labelled `cidata` holding `meta-data` and
 * `user-data`. Real cloud images and testbed's tiny image both read it. Resolves with `path`.
 */
export async function createNoCloudSeed(
  options: NoCloudSeedOptions,
  run: RunCommand = runCommand,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const parsed = schema.safeParse(options);
  if (!parsed.success) {
    throw new InvalidSpecError(
      parsed.error.issues.map((issue) => ({
        path: ['seed', ...issue.path].join('.'),
        message: issue.message,
      })),
    );
  }
  const { path, instanceId, hostname, authorizedKeys } = parsed.data;
  const userData = renderCloudUserData(
    { hostname, authorizedKeys, loginUser: options.loginUser ?? 'root' },
    options.userData,
  );
  const { xorriso } = await requireTools(['xorriso'], 'Building a NoCloud seed', env);
  // Next to the ISO, so a process killed mid-build leaves its scraps in the machine's own
  // directory (removed with the machine) rather than in /tmp.
  const dir = await mkdtemp(join(dirname(path), '.seed-'));
  try {
    await writeFile(join(dir, 'meta-data'), renderMetaData(instanceId, hostname));
    await writeFile(join(dir, 'user-data'), userData);
    const args = [
      '-as',
      'mkisofs',
      '-quiet',
      '-o',
      path,
      '-V',
      'cidata',
      '-J',
      '-r',
      '-graft-points',
      `user-data=${join(dir, 'user-data')}`,
      `meta-data=${join(dir, 'meta-data')}`,
    ];
    await run(xorriso as string, args, {
      timeoutMs: 30_000,
      ...(options.signal ? { signal: options.signal } : {}),
    }).catch(async (error: unknown) => {
      await rm(path, { force: true });
      throw error;
    });
    return path;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
