import { boundedFault } from '../../core/bounded-fault.js';
import {
  FaultFailedError,
  NotOnNetworkError,
  UnsupportedOperationError,
} from '../../core/errors.js';
import type { FaultOptions, Machine } from '../../core/provider.js';
import type { Virsh } from './virsh.js';

const GONE = /failed to get domain|domain not found|no domain with matching/i;

/**
 * The MAC of `domain`'s NIC on `network`, from `virsh domiflist` (`vnet3 network <name> virtio
 * <mac>`). A MAC, not the host-side `vnetN` name: that changes each time the domain starts.
 */
export function nicOnNetwork(domiflist: string, network: string): string | undefined {
  for (const line of domiflist.split('\n')) {
    const [, type, source, , mac] = line.trim().split(/\s+/);
    if (type === 'network' && source === network && mac) return mac;
  }
  return undefined;
}

/**
 * Sets the link of `machine`'s NIC on `network` down or up (`virsh domif-setlink`): the guest
 * sees its carrier drop, and no frame passes either way, as the NixOS driver's block/unblock.
 */
export async function setLink(
  virsh: Virsh,
  network: string,
  machine: Machine,
  state: 'down' | 'up',
  options: FaultOptions = {},
): Promise<void> {
  const operation = `network.${state === 'down' ? 'disconnect' : 'connect'}()`;
  if (machine.providerId !== 'libvirt') {
    throw new UnsupportedOperationError(
      `${operation} of ${machine.providerId} machine ${machine.name} on libvirt network ${network}`,
      'libvirt',
      { fix: 'Cut links of machines on networks of their own provider.' },
    );
  }
  return boundedFault(
    {
      operation: `${operation} of ${machine.name} on ${network}`,
      defaultTimeoutMs: 30_000,
      fix: 'Raise timeoutMs, or run `npx testbed doctor` to check libvirtd.',
    },
    options,
    async (signal) => {
      const listed = await virsh.call(['domiflist', machine.name], { reject: false, signal });
      if (listed.exitCode !== 0) {
        const reason = GONE.test(listed.stderr)
          ? 'it is powered off (crashed) or destroyed'
          : listed.stderr.trim();
        throw new FaultFailedError(machine.name, operation, reason, {
          fix: 'Call start() on a crashed machine first; a link is cut only on a running one.',
        });
      }
      const mac = nicOnNetwork(listed.stdout, network);
      if (!mac) throw new NotOnNetworkError(machine.name, network);
      // Setting a link to the state it has succeeds: the operation is idempotent as it is.
      const set = await virsh.call(['domif-setlink', machine.name, mac, state], {
        reject: false,
        signal,
      });
      if (set.exitCode !== 0) {
        throw new FaultFailedError(machine.name, operation, set.stderr.trim(), {
          fix: 'Run `npx testbed doctor` to check libvirtd.',
        });
      }
    },
  );
}
