import { parse, stringify } from 'yaml';
import { InvalidSpecError } from '../core/errors.js';

/** A user's cloud-init user-data: a cloud-config object, or a raw `#cloud-config`, `#!` script or `#cloud-boothook`. */
export type UserData = Record<string, unknown> | string;

/** What testbed itself needs in user-data so that its login works. */
export interface TestbedUserData {
  /** Hostname to set. */
  hostname: string;
  /** Keys testbed logs in with. */
  authorizedKeys: readonly string[];
  /** The user testbed logs in as; `root` keeps the image's users and enables root's keys. */
  loginUser: string;
}

const BOUNDARY = 'testbed-user-data-boundary';
const PART_TYPES: readonly [prefix: string, type: string][] = [
  ['#!', 'text/x-shellscript'],
  ['#cloud-boothook', 'text/cloud-boothook'],
];

function invalid(message: string, cause?: unknown): InvalidSpecError {
  return new InvalidSpecError([{ path: 'userData', message }], {
    cause,
    fix: 'Pass a cloud-config object ({ packages: [...], write_files: [...], runcmd: [...] }), a "#cloud-config" YAML string, or a "#!" script.',
  });
}

/** testbed's own keys merged into the user's cloud-config: its login user and keys are always there. */
function merge(own: TestbedUserData, user: Record<string, unknown>): Record<string, unknown> {
  const keys = [...own.authorizedKeys];
  const theirUsers = Array.isArray(user.users) ? (user.users as unknown[]) : ['default'];
  const login =
    own.loginUser === 'root'
      ? []
      : [
          {
            name: own.loginUser,
            sudo: 'ALL=(ALL) NOPASSWD:ALL',
            lock_passwd: true,
            ssh_authorized_keys: keys,
          },
        ];
  const theirKeys = Array.isArray(user.ssh_authorized_keys) ? user.ssh_authorized_keys : [];
  return {
    ...user,
    hostname: own.hostname,
    ssh_authorized_keys: [...theirKeys, ...keys],
    // A cloud image locks root by default; root as the login user needs it open.
    ...(own.loginUser === 'root' ? { disable_root: false } : {}),
    users: [...theirUsers, ...login],
  };
}

function cloudConfig(value: Record<string, unknown>): string {
  return `#cloud-config\n${stringify(value, { lineWidth: 0 })}`;
}

/**
 * The `user-data` of a NoCloud seed: testbed's hostname, keys and login user (with sudo), merged
 * with the user's cloud-config; a user's script travels as a second part of a MIME multipart.
 */
export function renderCloudUserData(own: TestbedUserData, userData?: UserData): string {
  if (userData === undefined) return cloudConfig(merge(own, {}));
  if (typeof userData !== 'string') {
    if (typeof userData !== 'object' || userData === null || Array.isArray(userData)) {
      throw invalid('must be a cloud-config object or a string');
    }
    return cloudConfig(merge(own, userData));
  }
  const text = userData.trimStart();
  if (text.startsWith('#cloud-config')) {
    let parsed: unknown;
    try {
      parsed = parse(text);
    } catch (error) {
      throw invalid(`is not valid YAML: ${(error as Error).message.split('\n')[0]}`, error);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw invalid('a #cloud-config string must hold a YAML mapping');
    }
    return cloudConfig(merge(own, parsed as Record<string, unknown>));
  }
  const type = PART_TYPES.find(([prefix]) => text.startsWith(prefix))?.[1];
  if (!type) {
    throw invalid('a string must start with #cloud-config, #! (a script) or #cloud-boothook');
  }
  return [
    `Content-Type: multipart/mixed; boundary="${BOUNDARY}"`,
    'MIME-Version: 1.0',
    '',
    `--${BOUNDARY}`,
    'Content-Type: text/cloud-config; charset="utf-8"',
    '',
    cloudConfig(merge(own, {})),
    `--${BOUNDARY}`,
    `Content-Type: ${type}; charset="utf-8"`,
    '',
    userData,
    `--${BOUNDARY}--`,
    '',
  ].join('\n');
}
