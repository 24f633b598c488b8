import { finished } from 'node:stream/promises';
import { types } from 'node:util';
import type { ExecOptions, ExecResult } from '../core/provider.js';
import type { RemoteProcess } from './remote-process.js';

/** Writes `input` (text, bytes or a stream, any size) to the process's stdin, then closes it. */
export function feedInput(process: RemoteProcess, input: ExecOptions['input']): () => void {
  if (input === undefined || typeof input === 'string' || types.isUint8Array(input)) {
    process.stdin.end(input);
    return () => {};
  }
  // A failing input stream fails the command: it would otherwise wait for the rest forever.
  const onError = (error: unknown) => void process.giveUp(error);
  input.once('error', onError);
  input.pipe(process.stdin);
  return () => {
    input.removeListener('error', onError);
    // streamx streams (tar-fs, tar-stream) pipe like Node's but cannot unpipe.
    input.unpipe?.(process.stdin);
  };
}

/** Collects a process's output and exit code; rejects as `exited` does. */
export async function collectOutput(
  process: RemoteProcess,
  encoding: ExecOptions['encoding'],
): Promise<ExecResult<string | Uint8Array>> {
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  process.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  process.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  const ended = Promise.all([finished(process.stdout), finished(process.stderr)]);
  ended.catch(() => {});
  const exitCode = await process.exited;
  await ended;
  const decode = (chunks: Buffer[]) =>
    encoding === 'buffer' ? Buffer.concat(chunks) : Buffer.concat(chunks).toString('utf8');
  return { stdout: decode(stdout), stderr: decode(stderr), exitCode };
}
