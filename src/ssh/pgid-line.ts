import { Transform, type TransformCallback } from 'node:stream';

/**
 * Run by the remote shell before each command: reports the process group the command runs in,
 * so a command given up on can be killed whole (closing its channel leaves it running), and that
 * the command started at all. Without `/proc` the line says 0: started, group unknown.
 */
export const PGID_PROLOGUE =
  'testbed_pgid=0; { read -r _ _ _ _ testbed_pgid _ </proc/$$/stat; } 2>/dev/null; printf \'testbed-pgid %s\\n\' "$testbed_pgid" >&2; unset testbed_pgid';

/** What a command's prologue checks exists before the command runs. */
export interface CommandContextChecks {
  /** Shell code that succeeds when the user exists, e.g. `id -u alice >/dev/null 2>&1`. */
  user?: string | undefined;
  /** Shell code that succeeds when the working directory exists. */
  cwd?: string | undefined;
}

/** Exit status of a command whose user or working directory is missing (it never ran). */
export const MISSING_CONTEXT_EXIT = 125;

/**
 * `PGID_PROLOGUE` with checks run first: when the user or the directory is missing, the line
 * names which (`testbed-pgid 812 cwd`) and the shell exits with `MISSING_CONTEXT_EXIT` before the
 * command runs, so every image reports it the same way whatever its `su`, `sudo` or `cd` print.
 */
export function pgidPrologue(checks: CommandContextChecks = {}): string {
  if (checks.user === undefined && checks.cwd === undefined) return PGID_PROLOGUE;
  const tests = [
    checks.user === undefined ? '' : `{ ${checks.user}; } || testbed_missing=' user'; `,
    checks.cwd === undefined
      ? ''
      : `[ -n "$testbed_missing" ] || { ${checks.cwd}; } || testbed_missing=' cwd'; `,
  ].join('');
  return [
    'testbed_pgid=0; testbed_missing=; { read -r _ _ _ _ testbed_pgid _ </proc/$$/stat; } 2>/dev/null; ',
    tests,
    'printf \'testbed-pgid %s%s\\n\' "$testbed_pgid" "$testbed_missing" >&2; ',
    `[ -z "$testbed_missing" ] || exit ${MISSING_CONTEXT_EXIT}; unset testbed_pgid testbed_missing`,
  ].join('');
}

const PREFIX = Buffer.from('testbed-pgid ');
const LINE = /^testbed-pgid (\d+)(?: (cwd|user))?\n/;
/** Longer than any pgid line: a first line this long is the command's own output. */
const MAX_LINE = 40;

/**
 * A standard-error filter that takes the prologue's line off the front and hands its process group
 * to `onPgid` (undefined when the shell printed none) with what the line says is missing, if
 * anything; everything else passes through as is.
 */
export function stripPgidLine(
  onPgid: (pgid: number | undefined, missing?: 'cwd' | 'user') => void,
): Transform {
  let head: Buffer | undefined = Buffer.alloc(0);
  const settle = (
    transform: Transform,
    rest: Buffer,
    pgid: number | undefined,
    missing?: 'cwd' | 'user',
  ) => {
    head = undefined;
    onPgid(pgid, missing);
    if (rest.length > 0) transform.push(rest);
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      if (head === undefined) return callback(null, chunk);
      const seen: Buffer = Buffer.concat([head, chunk]);
      const compared = Math.min(seen.length, PREFIX.length);
      if (!seen.subarray(0, compared).equals(PREFIX.subarray(0, compared))) {
        settle(this, seen, undefined);
      } else {
        const match = LINE.exec(seen.subarray(0, MAX_LINE).toString('latin1'));
        if (match) {
          const missing = match[2] as 'cwd' | 'user' | undefined;
          settle(this, seen.subarray(match[0].length), Number(match[1]) || undefined, missing);
        } else if (seen.length >= MAX_LINE) settle(this, seen, undefined);
        else head = seen;
      }
      callback();
    },
    flush(callback: TransformCallback) {
      if (head !== undefined) settle(this, head, undefined);
      callback();
    },
  });
}
