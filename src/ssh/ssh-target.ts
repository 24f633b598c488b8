/** Where and as whom to log in over SSH with a key. */
export interface SshTarget {
  /** Host to connect to, e.g. `127.0.0.1`. */
  host: string;
  /** TCP port of the SSH server. */
  port: number;
  /** User to log in as. */
  username: string;
  /** Private key, OpenSSH format. */
  privateKey: string;
}

/** The `ssh` command line that reaches `target` (and runs `command`), for messages. */
export function describeTarget(target: SshTarget, command = ''): string {
  return `ssh -p ${target.port} ${target.username}@${target.host}${command ? ` ${command}` : ''}`;
}
