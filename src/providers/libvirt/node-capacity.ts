import type { ProviderCapacity } from '../../core/provider.js';
import type { Virsh } from './virsh.js';

const KIB_PER_MIB = 1024;

function kib(output: string, field: string): number | undefined {
  const match = new RegExp(`^${field}\\s*:\\s*(\\d+)\\s*KiB`, 'm').exec(output);
  return match ? Number(match[1]) : undefined;
}

/**
 * A libvirt host's capacity from `virsh nodeinfo`, `virsh nodememstats` and `virsh domstats
 * --vcpu --list-running` (pure). Free memory is what the kernel can hand out (free, buffers and
 * page cache); free vCPUs are the host's CPUs less those running guests have, below zero when
 * guests oversubscribe it.
 */
export function parseNodeCapacity(
  nodeinfo: string,
  memstats: string,
  domstats: string,
): ProviderCapacity {
  const cpus = Number(/^CPU\(s\):\s*(\d+)/m.exec(nodeinfo)?.[1] ?? 0);
  // nodememstats reads the host's /proc/meminfo; nodeinfo's figure may be one NUMA cell's.
  const totalKiB = kib(memstats, 'total') ?? kib(nodeinfo, 'Memory size') ?? 0;
  const freeKiB =
    (kib(memstats, 'free') ?? 0) + (kib(memstats, 'buffers') ?? 0) + (kib(memstats, 'cached') ?? 0);
  const guestVcpus = [...domstats.matchAll(/^\s*vcpu\.current=(\d+)/gm)].reduce(
    (sum, m) => sum + Number(m[1]),
    0,
  );
  return {
    total: { memoryMiB: Math.floor(totalKiB / KIB_PER_MIB), vcpus: cpus },
    free: { memoryMiB: Math.floor(freeKiB / KIB_PER_MIB), vcpus: cpus - guestVcpus },
  };
}

/** The capacity of the host behind `virsh`'s connection; three bounded calls in parallel. */
export async function nodeCapacity(
  virsh: Virsh,
  options: { signal?: AbortSignal; timeoutMs: number },
): Promise<ProviderCapacity> {
  const [nodeinfo, memstats, domstats] = await Promise.all([
    virsh.call(['nodeinfo'], options),
    virsh.call(['nodememstats'], options),
    virsh.call(['domstats', '--vcpu', '--list-running'], options),
  ]);
  return parseNodeCapacity(nodeinfo.stdout, memstats.stdout, domstats.stdout);
}
