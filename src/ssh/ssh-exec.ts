import type { ExecOptions, ExecResult } from '../core/provider.js';
import type { ConnectSshOptions } from './connect-ssh.js';
import { SshSession } from './ssh-session.js';
import type { SshTarget } from './ssh-target.js';

/**
 * Runs one command over a fresh SSH connection and closes it (for readiness checks, where each
 * attempt must start from scratch). A string is shell code; an argument array is quoted so every
 * element reaches the program verbatim. `timeoutMs` bounds the whole call, connecting included.
 * A non-zero exit resolves; failing to connect rejects.
 */
export async function sshExec(
  target: SshTarget,
  command: string | readonly string[],
  options: Omit<ExecOptions, 'encoding'> & Pick<ConnectSshOptions, 'identTimeoutMs'> = {},
): Promise<ExecResult> {
  const { identTimeoutMs, ...execOptions } = options;
  const session = new SshSession(target, {
    ...(options.timeoutMs === undefined ? {} : { connectTimeoutMs: options.timeoutMs }),
    ...(identTimeoutMs === undefined ? {} : { identTimeoutMs }),
  });
  try {
    return (await session.exec(command, { ...execOptions, encoding: 'utf8' })) as ExecResult;
  } finally {
    session.close();
  }
}
