import { hostListSchema } from '../src/core/hosts.js';
import type { Machine, VmProvisioner } from '../src/core/provider.js';
import { createRunContext } from '../src/core/run-context.js';
import { VmBackendRegistry } from '../src/registry.js';
import { canStartRemoteHost, startRemoteHost } from '../test/integration/support/remote-host.js';
import { type Measurement, measureInterleaved } from './measure.js';

/**
 * Provision → SSH ready on a remote libvirt host against this one, same tiny image, cold boots
 * (remote hosts have no warm snapshots), in interleaved rounds; then the round trip of an exec
 * through the tunnel against the local forwarded port. The remote host is a namespaced libvirtd
 * on this machine (test/integration/support/remote-host.ts): the figures show the cost of the
 * storage API, the console mirror and the SSH tunnel, not of a network.
 */
export async function benchRemoteHost(): Promise<Measurement[]> {
  if (!canStartRemoteHost()) return [];
  const host = await startRemoteHost({ name: 'host2' });
  const run = createRunContext();
  const registry = VmBackendRegistry.withDefaults({
    hosts: hostListSchema.parse([`host2=libvirt:${host.libvirtUri}`]),
  });
  const local = registry.get('libvirt');
  const remote = registry.get('libvirt@host2');
  try {
    if (!local || !remote || !(await local.isAvailable())) return [];
    const provisioners: Record<string, VmProvisioner> = {
      local: await local.createProvisioner({ run }),
      remote: await remote.createProvisioner({ run }),
    };
    const kept: Machine[] = [];
    const boot = (where: string) => async () => {
      const machine = await provisioners[where]?.provision({});
      if (machine) kept.push(machine);
    };
    // Warm-up: builds the image, uploads it to the host, probes the host's accelerator.
    await boot('local')();
    await boot('remote')();
    const [nearby, faraway] = kept;
    const rows = await measureInterleaved(4, {
      'remote host: provision → SSH ready, this host': boot('local'),
      'remote host: provision → SSH ready, remote host (upload done)': boot('remote'),
    });
    const execs = (machine: Machine | undefined) => async () => {
      for (let i = 0; i < 20; i++) await machine?.exec?.(['true']);
    };
    rows.push(
      ...(await measureInterleaved(4, {
        'remote host: 20 execs, this host': execs(nearby),
        'remote host: 20 execs through the tunnel': execs(faraway),
      })),
    );
    for (const machine of kept) await machine.destroy().catch(() => {});
    return rows;
  } finally {
    await local?.removeRun?.(run.runId);
    await remote?.removeRun?.(run.runId);
    await host.stop();
  }
}
