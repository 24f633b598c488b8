import { execa } from 'execa';
import { CommandFailedError, TimeoutError } from './errors.js';

/** Options for running an external tool. */
export interface RunCommandOptions {
  /** Aborts the tool (it is killed). */
  signal?: AbortSignal;
  /** Kills the tool after this long and rejects with `TimeoutError`. */
  timeoutMs?: number;
  /** Written to the tool's standard input. */
  input?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Working directory of the tool. */
  cwd?: string;
  /** When false, a non-zero exit resolves instead of rejecting. Default true. */
  reject?: boolean;
}

/** What a finished tool printed and how it exited. */
export interface CommandResult {
  /** Standard output, trailing newline stripped. */
  stdout: string;
  /** Standard error, trailing newline stripped. */
  stderr: string;
  /** Exit code. */
  exitCode: number;
}

/** Runs a tool with an argument array (never a shell string); injected so unit tests can pass fakes. */
export type RunCommand = (
  file: string,
  args: readonly string[],
  options?: RunCommandOptions,
) => Promise<CommandResult>;

/** The default `RunCommand`, built on execa. */
export const runCommand: RunCommand = async (file, args, options = {}) => {
  const printable = [file, ...args].join(' ');
  const result = await execa(file, args, {
    reject: false,
    ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
    ...(options.signal ? { cancelSignal: options.signal } : {}),
    ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  if (result.timedOut) throw new TimeoutError(`\`${printable}\``, options.timeoutMs ?? 0);
  if (result.isCanceled) throw options.signal?.reason ?? new Error(`\`${printable}\` was aborted`);
  if (result.failed && result.exitCode === undefined) {
    throw new CommandFailedError(printable, undefined, result.stderr || (result.message ?? ''), {
      cause: result.cause,
      fix:
        (result.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
          ? `Install ${file} or put it on PATH.`
          : undefined,
    });
  }
  const exitCode = result.exitCode ?? 0;
  if (exitCode !== 0 && options.reject !== false) {
    throw new CommandFailedError(printable, exitCode, result.stderr);
  }
  return { stdout: result.stdout, stderr: result.stderr, exitCode };
};
