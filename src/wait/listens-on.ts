/** Matches one socket line of `/proc/net/tcp{,6}`: local address:port, remote, state. */
const SOCKET_LINE = /^\s*\d+:\s+[0-9A-F]+:([0-9A-F]{4})\s+[0-9A-F]+:[0-9A-F]{4}\s+([0-9A-F]{2})\s/i;
const LISTEN = '0A';

/** True when the contents of `/proc/net/tcp` and `/proc/net/tcp6` show a socket listening on `port`. */
export function listensOn(procNetTcp: string, port: number): boolean {
  for (const line of procNetTcp.split('\n')) {
    const match = SOCKET_LINE.exec(line);
    if (
      match &&
      Number.parseInt(match[1] ?? '', 16) === port &&
      match[2]?.toUpperCase() === LISTEN
    ) {
      return true;
    }
  }
  return false;
}

/** The command that prints the guest's TCP sockets for `listensOn` (any POSIX shell, busybox too). */
export const LIST_TCP_SOCKETS = [
  'sh',
  '-c',
  'cat /proc/net/tcp /proc/net/tcp6 2>/dev/null',
] as const;
