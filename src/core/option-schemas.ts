import { types } from 'node:util';
import { z } from 'zod';
import { didYouMean } from './did-you-mean.js';
import { InvalidOptionsError, type ValidationProblem } from './errors.js';
import type { MachineSnapshot, RestoreOptions } from './provider.js';
import { isMachineNetwork } from './spec-schemas.js';

/**
 * A RegExp of any realm: Jest runs each test file in a vm context of its own, whose RegExp is not
 * `instanceof` this one.
 */
const anyRealmRegExp = z.custom<RegExp>((value) => types.isRegExp(value), 'must be a RegExp');

/**
 * Per-call options of machine methods (`exec`, `spawn`, transfers, waits, snapshots, faults),
 * validated the way specs are: unknown keys with a did-you-mean, wrong types and ranges with the
 * value, every problem at once, before anything runs in the machine.
 */

const got = (value: unknown): string => {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return String(value);
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (types.isRegExp(value)) return String(value);
  return typeof value === 'object' ? 'an object' : typeof value;
};

/** Bound of Node's timers: a longer delay fires at once (with a warning). */
const MAX_TIMER_MS = 2_147_483_647;

/** A duration in milliseconds, `what` for the message: `the command's time bound`. */
const milliseconds = (what: string, min = 1) =>
  z
    .number(`must be a number of milliseconds (${what})`)
    .int(`must be a whole number of milliseconds (${what})`)
    .min(min, `must be at least ${min} ms (${what})`)
    .max(MAX_TIMER_MS, `must be at most ${MAX_TIMER_MS} ms, about 24 days (${what})`);

const isSignal = (value: unknown): value is AbortSignal =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as AbortSignal).aborted === 'boolean' &&
  typeof (value as AbortSignal).addEventListener === 'function';

const signal = z.custom<AbortSignal>(
  isSignal,
  'must be an AbortSignal, e.g. AbortSignal.timeout(5000) or an AbortController\u2019s signal',
);

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/**
 * POSIX portable user names (and Debian's), or a numeric uid: what `su`, `sudo -u` and Docker's
 * `User` all take (a uid only where it has a passwd entry, or on Docker).
 */
const USER_NAME = /^(?:[A-Za-z_][A-Za-z0-9_.-]*\$?|\d+)$/;

const commandShape = {
  signal: signal.optional(),
  env: z
    .record(
      z.string().regex(ENV_NAME, 'must be a variable name such as MY_VAR'),
      z.string('must be a string (convert numbers with String())'),
      'must be an object of variable name to string value, e.g. { LANG: "C" }',
    )
    .optional(),
  cwd: z
    .string('must be an absolute directory path inside the machine, such as /srv/app')
    .regex(/^\//, 'must be an absolute directory path inside the machine, such as /srv/app')
    .optional(),
  user: z
    .string('must be a user name such as "nobody"')
    .regex(USER_NAME, 'must be a user name such as "nobody", or a numeric uid')
    .optional(),
};

const isStream = (value: unknown): boolean =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as NodeJS.ReadableStream).pipe === 'function';

/** `exec` options. */
export const execOptionsSchema = z.strictObject({
  ...commandShape,
  timeoutMs: milliseconds("the command's time bound").optional(),
  input: z
    .custom<string | Uint8Array | NodeJS.ReadableStream>(
      (value) => typeof value === 'string' || types.isUint8Array(value) || isStream(value),
      'must be a string, a Uint8Array/Buffer or a readable stream',
    )
    .optional(),
  encoding: z
    .enum(['utf8', 'buffer'], "must be 'utf8' (text, the default) or 'buffer' (bytes)")
    .optional(),
});

/** `spawn` options. */
export const spawnOptionsSchema = z.strictObject(commandShape);

const transferShape = {
  signal: signal.optional(),
  timeoutMs: milliseconds("the transfer's time bound").optional(),
};

/** `copyTo`, `copyFrom` and `readFile` options. */
export const transferOptionsSchema = z.strictObject(transferShape);

/** `writeFile` options. */
export const writeFileOptionsSchema = z.strictObject({
  ...transferShape,
  mode: z
    .number('must be a file mode such as 0o644')
    .int('must be a file mode such as 0o644')
    .min(0, 'must be a file mode such as 0o644')
    .max(0o7777, 'must be a file mode such as 0o644 (at most 0o7777)')
    .optional(),
});

/** `waitUntil` options. */
export const waitUntilOptionsSchema = z.strictObject({
  signal: signal.optional(),
  timeoutMs: milliseconds('the whole wait').optional(),
  intervalMs: milliseconds('the pause between attempts', 0).optional(),
});

/** `console.waitFor` options. */
export const waitForOptionsSchema = z.strictObject({
  signal: signal.optional(),
  timeoutMs: milliseconds('the wait for the line').optional(),
});

/** Fault options: `pause`, `resume`, `reboot`, `crash`, `start`, `disconnect`, `connect`. */
export const faultOptionsSchema = z.strictObject({
  signal: signal.optional(),
  timeoutMs: milliseconds("the operation's time bound").optional(),
});

/** `snapshot` options. */
export const snapshotOptionsSchema = z.strictObject({
  signal: signal.optional(),
  memory: z.boolean('must be true (save memory too, a warm snapshot) or false').optional(),
});

const cloneShape = {
  name: z.string('must be a name hint (a string)').min(1, 'must not be empty').optional(),
  signal: signal.optional(),
  timeoutMs: milliseconds('booting the new machine, readiness included').optional(),
};

/** `clone` options. */
export const cloneOptionsSchema = z.strictObject(cloneShape);

/** `restore` options. */
export const restoreOptionsSchema = z.strictObject({
  ...cloneShape,
  hostname: z.string('must be a hostname such as web-1').min(1, 'must not be empty').optional(),
  networks: z
    .array(
      z.custom((value) => isMachineNetwork(value), 'must be a network from createNetwork()'),
      'must be a list of networks from createNetwork()',
    )
    .optional(),
});

const tcpPort = z
  .number('must be a TCP port number')
  .int('must be a whole TCP port number')
  .min(1, 'must be a TCP port (1-65535)')
  .max(65_535, 'must be a TCP port (1-65535)');

const fn = (message: string) =>
  z.custom<(value: never) => boolean>((v) => typeof v === 'function', message);

/** `Wait.forPort(port)` and `Wait.forHttp(port, path, options)` ports. */
export const waitPortSchema = tcpPort;

/** `Wait.forHttp` path. */
export const waitPathSchema = z
  .string('must be a URL path such as /health')
  .regex(/^[^\s]*$/, 'must be a URL path such as /health (no spaces)');

/** `Wait.forHttp` options. */
export const httpWaitOptionsSchema = z.strictObject({
  status: z
    .union(
      [z.number().int().min(100).max(599), fn('must be a status code or a predicate')],
      'must be an HTTP status code (100-599) or a predicate (status) => boolean',
    )
    .optional(),
  body: z
    .union(
      [z.string(), anyRealmRegExp, fn('must be a predicate')],
      'must be a substring, a RegExp or a predicate (body) => boolean',
    )
    .optional(),
  protocol: z.enum(['http', 'https'], "must be 'http' or 'https'").optional(),
  method: z
    .string('must be an HTTP method such as GET or HEAD')
    .regex(/^[A-Za-z]+$/, 'must be an HTTP method such as GET or HEAD')
    .optional(),
  headers: z
    .record(
      z.string(),
      z.string('must be a string header value'),
      'must be an object of header name to value',
    )
    .optional(),
});

/** `Wait.forCommand` options. */
export const commandWaitOptionsSchema = z.strictObject({
  exitCode: z
    .number('must be an exit code (0-255)')
    .int('must be an exit code (0-255)')
    .min(0, 'must be an exit code (0-255)')
    .max(255, 'must be an exit code (0-255)')
    .optional(),
});

/** `Wait.forCommand` command. */
export const waitCommandSchema = z.union(
  [
    z.string().min(1, 'must not be empty'),
    z.array(z.string('must be a list of strings')).min(1, 'must not be an empty list'),
  ],
  "must be shell code (a string) or an argument list such as ['pg_isready']",
);

/** `Wait.forConsole` pattern. */
export const consolePatternSchema = z.union(
  [z.string().min(1, 'must not be empty'), anyRealmRegExp],
  'must be a string or a RegExp',
);

/** Keys of an object schema, for the fix line and typo hints. */
function keysOf(schema: z.ZodType): string[] {
  const shape = (schema as unknown as { shape?: Record<string, unknown> }).shape;
  return shape ? Object.keys(shape) : [];
}

/** Keys that belong to another method, with what to do instead. */
const SPAWN_ELSEWHERE: Record<string, string> = {
  timeoutMs:
    'spawn() has no time bound: pass signal: AbortSignal.timeout(ms), or kill() the process',
  input: 'spawn() takes no input option: write to process.stdin and end() it',
  encoding: 'spawn() streams bytes: decode process.stdout yourself',
};
const ELSEWHERE: Record<string, Record<string, string>> = {
  'exec()': { stdin: 'exec() takes input: a string, bytes or a stream' },
  'spawn()': SPAWN_ELSEWHERE,
};

function problemsOf(
  method: string,
  issues: readonly z.core.$ZodIssue[],
  input: unknown,
  known: readonly string[],
  prefix: string,
): ValidationProblem[] {
  const valueAt = (path: readonly PropertyKey[]): unknown =>
    path.reduce<unknown>((value, key) => (value as Record<PropertyKey, unknown>)?.[key], input);
  const join = (path: readonly PropertyKey[]) =>
    [prefix, ...path.map(String)].filter((p) => p !== '').join('.') || '(options)';
  return issues.flatMap((issue): ValidationProblem[] => {
    if (issue.code === 'unrecognized_keys') {
      const elsewhere = ELSEWHERE[method] ?? {};
      return issue.keys.map((key) => {
        const instead = elsewhere[key];
        const hint = didYouMean(key, known);
        return {
          path: join([...issue.path, key]),
          message: instead
            ? `is not an option of ${method}; ${instead}`
            : hint
              ? `is not an option of ${method} (did you mean '${hint}'?)`
              : `is not an option of ${method}`,
        };
      });
    }
    const value = valueAt(issue.path);
    return [
      {
        path: join(issue.path),
        message: value === undefined ? issue.message : `${issue.message} (got ${got(value)})`,
      },
    ];
  });
}

/** One argument of a call, checked on its own: `{ name: 'port', schema, value }`. */
export interface CheckedArgument {
  /** The argument's name in messages (`port`, `path`, `options`). */
  name: string;
  schema: z.ZodType;
  value: unknown;
}

/**
 * Checks a call's arguments, reporting every problem of every argument at once as
 * `InvalidOptionsError`; `options` arguments (strict objects) name their keys, the rest their name.
 * Returns nothing: the values are used as given.
 */
export function checkArguments(method: string, args: readonly CheckedArgument[]): void {
  const problems: ValidationProblem[] = [];
  let options: string[] = [];
  for (const { name, schema, value } of args) {
    const keys = keysOf(schema);
    if (keys.length > 0) {
      if (value === undefined) continue;
      options = keys;
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        problems.push({
          path: name === 'options' ? '(options)' : name,
          message: `must be an object of options (${keys.join(', ')}) (got ${got(value)})`,
        });
        continue;
      }
    }
    const result = schema.safeParse(value);
    if (!result.success) {
      problems.push(
        ...problemsOf(
          method,
          result.error.issues,
          value,
          keys,
          keys.length > 0 && name === 'options' ? '' : name,
        ),
      );
    }
  }
  if (problems.length === 0) return;
  throw new InvalidOptionsError(method, problems, {
    fix:
      options.length > 0
        ? `Correct the values above; ${method} takes ${options.join(', ')}.`
        : 'Correct the values above.',
  });
}

/** Checks the options object of `method` against `schema` (see `checkArguments`). */
export function checkOptions(method: string, schema: z.ZodType, options: unknown): void {
  checkArguments(method, [{ name: 'options', schema, value: options }]);
}

/** Makes `snapshot.restore` check its options first (in place: the snapshot keeps its other members). */
export function withCheckedRestore<S extends MachineSnapshot>(snapshot: S): S {
  const restore = snapshot.restore.bind(snapshot);
  snapshot.restore = async (options?: RestoreOptions) => {
    checkOptions('restore()', restoreOptionsSchema, options);
    return restore(options);
  };
  return snapshot;
}
