import { types } from 'node:util';
import { AbortedError, TimeoutError } from '../../core/errors.js';
import type { ExecOptions, ExecResult } from '../../core/provider.js';
import type { ExecStream } from './exec-stream.js';

/** Bound on an exec when the caller gives none. */
const DEFAULT_EXEC_TIMEOUT_MS = 120_000;

function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  return new Promise((resolve) => {
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('close', () => resolve(Buffer.concat(chunks)));
  });
}

function feed(stdin: NodeJS.WritableStream, input: ExecOptions['input']): Promise<never> {
  if (input === undefined) stdin.end();
  else if (typeof input === 'string') stdin.end(Buffer.from(input, 'utf8'));
  else if (types.isUint8Array(input)) {
    stdin.end(Buffer.from(input.buffer, input.byteOffset, input.byteLength));
  } else {
    input.pipe(stdin);
    // A failing input stream fails the exec (its command is killed), never a half-fed success.
    return new Promise((_, reject) => input.once('error', reject));
  }
  return new Promise(() => undefined);
}

/**
 * Runs one command to its end on top of the streaming primitive: feeds `input`, collects the
 * output, and on timeout or abort kills the command's processes before rejecting with
 * `TimeoutError` or `AbortedError` (whose cause is the signal's reason).
 */
export async function runExec(
  start: () => ExecStream,
  operation: string,
  options: ExecOptions,
): Promise<ExecResult<string | Uint8Array>> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
  if (options.signal?.aborted) throw new AbortedError(operation, options.signal.reason);
  const process = start();
  const output = Promise.all([collect(process.stdout), collect(process.stderr)]);
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  let onAbort: (() => void) | undefined;
  const given = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const exitCode = await Promise.race([
      process.exited,
      given,
      feed(process.stdin, options.input),
    ]);
    const [stdout, stderr] = await output;
    return options.encoding === 'buffer'
      ? { stdout, stderr, exitCode }
      : { stdout: stdout.toString('utf8'), stderr: stderr.toString('utf8'), exitCode };
  } catch (error) {
    await process.kill();
    if (options.signal?.aborted) throw new AbortedError(operation, options.signal.reason);
    if (timeout.aborted) {
      throw new TimeoutError(operation, timeoutMs, {
        fix: 'Its processes were killed; raise timeoutMs if the command needs longer.',
      });
    }
    throw error;
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}
