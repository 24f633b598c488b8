import type { ExecOptions, ExecResult } from '../core/provider.js';
import type { ConnectSshOptions } from './connect-ssh.js';
import { connectSsh } from './connect-ssh.js';
import type { SshTarget } from './ssh-target.js';

/**
 * Runs one command over a fresh SSH connection and closes it. A string is shell code; an argument
 * array is quoted so every element reaches the program verbatim. `timeoutMs` bounds the whole
 * call, connecting included. A non-zero exit resolves; failing to connect rejects.
 */
export async function sshExec(
  target: SshTarget,
  command: string | readonly string[],
  options: ExecOptions & Pick<ConnectSshOptions, 'identTimeoutMs'> = {},
): Promise<ExecResult> {
  const started = Date.now();
  const connection = await connectSsh(target, {
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.identTimeoutMs !== undefined ? { identTimeoutMs: options.identTimeoutMs } : {}),
  });
  try {
    const left =
      options.timeoutMs === undefined
        ? undefined
        : Math.max(1, options.timeoutMs - (Date.now() - started));
    return await connection.exec(command, { ...options, ...(left ? { timeoutMs: left } : {}) });
  } finally {
    connection.close();
  }
}
