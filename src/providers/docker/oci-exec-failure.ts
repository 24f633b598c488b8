import { Writable } from 'node:stream';
import { drained } from './exec-demux.js';

/** What Docker reports when an exec cannot start: the OCI runtime's message, a shell-like exit code. */
export interface OciExecFailure {
  /** 127 when the command does not exist, 126 when it cannot be run (as a shell reports them). */
  exitCode: number;
  /** The runtime's message, one line, for stderr. */
  message: string;
  /** Set when the exec's working directory or user is what is missing. */
  missing?: 'cwd' | 'user';
}

/** How Docker's runtime errors start; a program printing exactly these first is not expected. */
const OCI_PREFIX = 'OCI runtime exec failed';
/** What the engine itself writes (before the runtime runs) for an exec `User` not in /etc/passwd. */
const USER_PREFIX = 'unable to find user ';
const PREFIXES = [OCI_PREFIX, USER_PREFIX];
const NO_CWD =
  /chdir to cwd \("[^"]*"\) set in config\.json failed: (?:no such file or directory|not a directory)/;
const NO_USER = /^unable to find user [^:]+: no matching entries in passwd file/;
const NOT_FOUND =
  /exec: "[^"]*": (?:executable file not found|stat [^:]*: no such file or directory)/;

/**
 * Recognises a failed exec start: Docker writes the runtime's error to the exec's *stdout*, with
 * `\r\n`, and exits 126 (or 127, depending on the engine) whatever the cause.
 */
export function ociExecFailure(stdout: string, exitCode: number): OciExecFailure | undefined {
  if (exitCode !== 126 && exitCode !== 127) return undefined;
  const message = `${stdout.replace(/\r\n/g, '\n').trimEnd()}\n`;
  if (NO_USER.test(stdout)) return { exitCode: 126, message, missing: 'user' };
  if (!stdout.startsWith(OCI_PREFIX)) return undefined;
  if (NO_CWD.test(message)) return { exitCode: 126, message, missing: 'cwd' };
  return { exitCode: NOT_FOUND.test(message) ? 127 : 126, message };
}

/**
 * The exec's stdout on its way to `stdout`: output that starts like the runtime's error is held
 * back until the exit code tells whether it is one (then it belongs on stderr); anything else
 * passes straight through.
 */
export class OciGate extends Writable {
  #held: Buffer[] = [];
  #open = false;

  constructor(private readonly stdout: NodeJS.WritableStream) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error) => void) {
    if (this.#open) return this.#forward(chunk, callback);
    this.#held.push(chunk);
    const head = Buffer.concat(this.#held);
    const start = head.toString('latin1');
    const held = PREFIXES.some((prefix) => {
      const size = Math.min(start.length, prefix.length);
      return start.slice(0, size) === prefix.slice(0, size);
    });
    if (!held) {
      this.#open = true;
      this.#held = [];
      return this.#forward(head, callback);
    }
    callback();
  }

  #forward(chunk: Buffer, callback: (error?: Error) => void): void {
    if (this.stdout.write(chunk)) callback();
    else drained(this.stdout).then(() => callback());
  }

  /** Once the exec has ended: the runtime's failure if the held output is one, else it is released to stdout. */
  settle(exitCode: number): OciExecFailure | undefined {
    const held = Buffer.concat(this.#held);
    this.#held = [];
    this.#open = true;
    const failure = ociExecFailure(held.toString('utf8'), exitCode);
    if (!failure && held.length > 0) this.stdout.write(held);
    return failure;
  }
}
