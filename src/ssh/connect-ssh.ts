import { constants } from 'node:os';
import { Client } from 'ssh2';
import { CommandFailedError, TimeoutError } from '../core/errors.js';
import type { ExecOptions, ExecResult } from '../core/provider.js';
import { toRemoteCommand } from './shell-quote.js';
import type { SshTarget } from './ssh-target.js';

/** Options for opening an SSH connection. */
export interface ConnectSshOptions {
  /** Aborts the connection attempt. */
  signal?: AbortSignal;
  /** Upper bound on TCP connect plus handshake and authentication. Default 10 s. */
  timeoutMs?: number;
  /**
   * Upper bound until the server identifies itself (`SSH-2.0-...`). A forwarded port whose guest
   * is not up yet accepts the connection and then says nothing; this tells that apart from a
   * slow handshake. Default: `timeoutMs`.
   */
  identTimeoutMs?: number;
}

/** An open SSH connection that runs commands; close it when done. */
export interface SshConnection {
  /** Runs `command` (shell code, or an argument array quoted for the remote shell). */
  exec(command: string | readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /** Closes the connection; idempotent. */
  close(): void;
}

function describeTarget(target: SshTarget, command = ''): string {
  return `ssh -p ${target.port} ${target.username}@${target.host}${command ? ` ${command}` : ''}`;
}

function exitCodeOf(code: number | null | undefined, signalName: string | undefined): number {
  if (typeof code === 'number') return code;
  const signal = signalName ? constants.signals[`SIG${signalName}` as NodeJS.Signals] : undefined;
  // Shells report a command killed by a signal as 128 + the signal number; mirror that.
  return signal === undefined ? 255 : 128 + signal;
}

/** Opens an SSH connection authenticated by key; rejects with `CommandFailedError` or `TimeoutError`. */
export function connectSsh(
  target: SshTarget,
  options: ConnectSshOptions = {},
): Promise<SshConnection> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const client = new Client();
  return new Promise<SshConnection>((resolve, reject) => {
    let settled = false;
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      cleanup();
      client.destroy();
      reject(error);
    };
    const onAbort = () => fail(options.signal?.reason);
    const timer = setTimeout(
      () => fail(new TimeoutError(`SSH connection to ${target.host}:${target.port}`, timeoutMs)),
      timeoutMs,
    );
    let identified = false;
    const identTimeoutMs = options.identTimeoutMs ?? timeoutMs;
    const identTimer = setTimeout(() => {
      if (identified) return;
      const what = `SSH server identification on ${target.host}:${target.port}`;
      fail(new TimeoutError(what, identTimeoutMs));
    }, identTimeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      clearTimeout(identTimer);
      options.signal?.removeEventListener('abort', onAbort);
    };
    if (options.signal?.aborted) return fail(options.signal.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    // Errors after settling (a late reset, a closed socket) are expected and must not crash.
    client.on('error', (error) =>
      fail(
        new CommandFailedError(describeTarget(target), undefined, error.message, {
          cause: error,
          fix: `Check that the machine is running and its SSH server listens on ${target.host}:${target.port} and accepts the key for '${target.username}'.`,
        }),
      ),
    );
    client.once('ready', () => {
      if (settled) return;
      settled = true;
      cleanup();
      resolve(createConnection(client, target));
    });
    client.connect({
      host: target.host,
      port: target.port,
      username: target.username,
      privateKey: target.privateKey,
      readyTimeout: timeoutMs,
      // ssh2 reports the server's identification string only through its debug hook.
      debug: (message: string) => {
        if (message.startsWith('Remote ident')) identified = true;
      },
      // Throwaway machines get fresh host keys on every boot: there is nothing to pin.
      hostVerifier: () => true,
    });
  });
}

/**
 * Run by the remote shell before each command: reports the process group the command runs in,
 * so a command given up on can be killed whole (closing the connection leaves it running).
 */
const PGID_PROLOGUE =
  'read -r _ _ _ _ testbed_pgid _ 2>/dev/null </proc/$$/stat && printf \'testbed-pgid %s\\n\' "$testbed_pgid" >&2; unset testbed_pgid';
const PGID_LINE = /^testbed-pgid (\d+)\n/;
const KILL_TIMEOUT_MS = 5000;

/** Kills a remote process group over a fresh connection; best effort, bounded. */
async function killRemoteGroup(target: SshTarget, pgid: number): Promise<void> {
  const connection = await connectSsh(target, { timeoutMs: KILL_TIMEOUT_MS });
  try {
    await connection.exec(`kill -9 -- -${pgid}`, { timeoutMs: KILL_TIMEOUT_MS });
  } finally {
    connection.close();
  }
}

function createConnection(client: Client, target: SshTarget): SshConnection {
  let closed = false;
  return {
    exec: (command, options = {}) => runExec(client, target, toRemoteCommand(command), options),
    close: () => {
      if (closed) return;
      closed = true;
      client.end();
    },
  };
}

function runExec(
  client: Client,
  target: SshTarget,
  command: string,
  options: ExecOptions,
): Promise<ExecResult> {
  return new Promise<ExecResult>((resolve, reject) => {
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const settle = (action: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      client.removeListener('close', onClientClose);
      action();
    };
    /** Stops the command (its whole process group, when known), then rejects. */
    const giveUp = (reason: unknown) =>
      settle(() => {
        client.end();
        const group = Number(PGID_LINE.exec(Buffer.concat(stderr).toString('utf8'))?.[1]);
        const killed = group ? killRemoteGroup(target, group).catch(() => {}) : Promise.resolve();
        void killed.then(() => reject(reason));
      });
    const onAbort = () => giveUp(options.signal?.reason);
    const onClientClose = () =>
      settle(() =>
        reject(
          new CommandFailedError(describeTarget(target, command), undefined, 'connection closed', {
            fix: 'The machine went away or its SSH server dropped the connection.',
          }),
        ),
      );
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    client.once('close', onClientClose);
    if (options.timeoutMs !== undefined) {
      const limit = options.timeoutMs;
      timer = setTimeout(
        () => giveUp(new TimeoutError(`\`${describeTarget(target, command)}\``, limit)),
        limit,
      );
    }
    client.exec(`${PGID_PROLOGUE}\n${command}`, (error, stream) => {
      if (error) {
        settle(() =>
          reject(new CommandFailedError(describeTarget(target, command), undefined, error.message)),
        );
        return;
      }
      stream.on('data', (chunk: Buffer) => stdout.push(chunk));
      stream.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      stream.once('close', (code: number | null, signalName?: string) =>
        settle(() =>
          resolve({
            stdout: Buffer.concat(stdout).toString('utf8'),
            stderr: Buffer.concat(stderr).toString('utf8').replace(PGID_LINE, ''),
            exitCode: exitCodeOf(code, signalName),
          }),
        ),
      );
      stream.end(options.input);
    });
  });
}
