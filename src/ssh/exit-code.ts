import { constants } from 'node:os';

/**
 * The exit code of a command whose channel closed with `code` or `signalName` (ssh2 gives
 * `SIGKILL`; some servers plain `KILL`); undefined when the server reported neither, i.e. the
 * channel died with its connection.
 */
export function exitCodeOf(
  code: number | null | undefined,
  signalName: string | undefined,
): number | undefined {
  if (typeof code === 'number') return code;
  if (!signalName) return undefined;
  const name = (signalName.startsWith('SIG') ? signalName : `SIG${signalName}`) as NodeJS.Signals;
  const number = constants.signals[name];
  // Shells report a command killed by a signal as 128 + the signal number; mirror that.
  return number === undefined ? 255 : 128 + number;
}
