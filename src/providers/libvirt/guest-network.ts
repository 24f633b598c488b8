import { randomBytes } from 'node:crypto';
import { CommandFailedError } from '../../core/errors.js';
import { quoteShellArgument as q } from '../../ssh/shell-quote.js';
import type { GuestNetwork, LibvirtMachine } from './libvirt-machine.js';

/** A MAC address in QEMU's locally administered range, random. */
export function freshMac(): string {
  const bytes = [...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0'));
  return `52:54:00:${bytes.join(':')}`;
}

const MARK = '# testbed';

/**
 * Shell code that applies `network` in the guest, idempotently (it runs again after each boot,
 * since addresses set with `ip` do not outlive one): each NIC, found by MAC once it appears (a
 * NIC plugged in at run time takes a moment), is brought up with its address; `/etc/hosts` keeps
 * its own lines and gets testbed's, rewritten in place (Docker bind-mounts it; so may others).
 */
export function guestNetworkScript(network: GuestNetwork): string {
  const lines = ['set -e'];
  if (network.addresses.length > 0) {
    lines.push(
      'nic() { for p in /sys/class/net/*; do [ "$(cat "$p/address" 2>/dev/null)" = "$1" ] && { basename "$p"; return 0; }; done; return 1; }',
    );
  }
  for (const { mac, address } of network.addresses) {
    lines.push(
      `n=0; until dev=$(nic ${q(mac)}); do n=$((n + 1)); [ "$n" -gt 200 ] && { echo "no NIC with MAC ${mac}" >&2; exit 1; }; sleep 0.05; done`,
      'ip link set "$dev" up',
      `ip addr show dev "$dev" | grep -q ${q(` ${address} `)} || ip addr add ${q(address)} dev "$dev"`,
    );
  }
  const hosts = Object.entries(network.hosts);
  if (hosts.length > 0) {
    const entries = hosts.map(([name, address]) => q(`${address} ${name} ${MARK}`)).join(' ');
    lines.push(
      `kept=$(grep -v ${q(` ${MARK}$`)} /etc/hosts || true)`,
      `{ [ -z "$kept" ] || printf '%s\\n' "$kept"; printf '%s\\n' ${entries}; } > /etc/hosts`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Applies the machine's guest network settings as root; nothing to do without any. */
export async function configureGuestNetwork(
  machine: LibvirtMachine,
  signal?: AbortSignal,
): Promise<void> {
  const network = machine.state.guestNetwork;
  if (!network || (network.addresses.length === 0 && Object.keys(network.hosts).length === 0)) {
    return;
  }
  const result = await machine.exec(guestNetworkScript(network), {
    user: 'root',
    timeoutMs: 30_000,
    ...(signal ? { signal } : {}),
  });
  if (result.exitCode !== 0) {
    throw new CommandFailedError(
      `network setup of ${machine.name}`,
      result.exitCode,
      result.stderr.trim(),
      {
        fix: 'The guest needs `ip` (iproute2 or busybox) and a writable /etc/hosts for static addresses and names.',
      },
    );
  }
}
