import { PortNotForwardedError } from '../../core/errors.js';

/** The host port published for `guestPort`; `PortNotForwardedError` listing the published ones when it was not asked for. */
export function machinePort(
  machine: string,
  ports: Readonly<Record<string, number>>,
  guestPort: number,
): number {
  const port = ports[String(guestPort)];
  if (port === undefined) {
    throw new PortNotForwardedError(machine, guestPort, Object.keys(ports).map(Number));
  }
  return port;
}
