import { Transform, type TransformCallback } from 'node:stream';

/**
 * Run by the remote shell before each command: reports the process group the command runs in,
 * so a command given up on can be killed whole (closing its channel leaves it running), and that
 * the command started at all. Without `/proc` the line says 0: started, group unknown.
 */
export const PGID_PROLOGUE =
  'testbed_pgid=0; { read -r _ _ _ _ testbed_pgid _ </proc/$$/stat; } 2>/dev/null; printf \'testbed-pgid %s\\n\' "$testbed_pgid" >&2; unset testbed_pgid';

const PREFIX = Buffer.from('testbed-pgid ');
const LINE = /^testbed-pgid (\d+)\n/;
/** Longer than any pgid line: a first line this long is the command's own output. */
const MAX_LINE = 40;

/**
 * A standard-error filter that takes the prologue's line off the front and hands its process group
 * to `onPgid` (undefined when the shell printed none); everything else passes through as is.
 */
export function stripPgidLine(onPgid: (pgid: number | undefined) => void): Transform {
  let head: Buffer | undefined = Buffer.alloc(0);
  const settle = (transform: Transform, rest: Buffer, pgid: number | undefined) => {
    head = undefined;
    onPgid(pgid);
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
        if (match) settle(this, seen.subarray(match[0].length), Number(match[1]) || undefined);
        else if (seen.length >= MAX_LINE) settle(this, seen, undefined);
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
