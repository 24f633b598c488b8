import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UnsupportedOperationError } from '../../core/errors.js';
import type { MachineNetwork, NetworkOptions } from '../../core/provider.js';
import { type RunContext, shortId } from '../../core/run-context.js';
import { setLink } from './link-faults.js';
import { buildNetworkXml } from './network-xml.js';
import { ensureRunDirectory } from './run-directory.js';
import { teardownNetwork } from './teardown.js';
import type { Virsh } from './virsh.js';
import { parseVmSpec } from './vm-spec.js';

/** Where a network is made: the connection, the run, its local directory, the provider's id. */
export interface NetworkHost {
  /** virsh bound to the host's URI. */
  virsh: Virsh;
  /** The run that owns the network. */
  run: RunContext;
  /** The run's local directory (the XML is written there for virsh to read). */
  runDir: string;
  /** The provider's id, e.g. `libvirt` or `libvirt@host2`. */
  providerId: string;
  /** Whether machines of other providers can join it (only where they run on the same host). */
  shareable?: boolean;
}

/** An isolated libvirt network (no NAT, no host address, no DHCP) that VMs join via `spec.networks`. */
export async function createLibvirtNetwork(
  host: NetworkHost,
  options: NetworkOptions = {},
): Promise<MachineNetwork> {
  const { virsh, run, runDir, providerId } = host;
  if (options.join) {
    throw new UnsupportedOperationError(
      `joining network ${options.join.name} of provider '${options.join.providerId}'`,
      providerId,
      {
        fix: 'Create the libvirt network first and let the other provider join it (createNetwork({ join })).',
      },
    );
  }
  if (options.shared && host.shareable === false) {
    throw new UnsupportedOperationError('a network shared with other providers', providerId, {
      fix: "Machines on another host cannot join this host's bridge: keep a mixed network's members on one host.",
    });
  }
  const hint = options.name ? parseVmSpec({ name: options.name }).name : undefined;
  const name = `testbed-${run.runId}-${hint ? `${hint}-` : ''}${shortId(6)}`;
  await ensureRunDirectory(runDir, run);
  // Named here (interface names hold 15 characters), so other providers can join it at once.
  const bridge = `tb-${shortId(10)}`;
  const xml = buildNetworkXml(
    name,
    { runId: run.runId, owner: run.owner, createdAt: Date.now(), paths: {} },
    bridge,
  );
  const xmlPath = join(runDir, `${name}.network.xml`);
  await writeFile(xmlPath, xml);
  try {
    await virsh.call(['net-create', xmlPath], {
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    await teardownNetwork(virsh, name).catch(() => undefined);
    throw error;
  } finally {
    await rm(xmlPath, { force: true });
  }
  let destroying: Promise<void> | undefined;
  const destroy = () => {
    destroying ??= teardownNetwork(virsh, name);
    return destroying;
  };
  return {
    name,
    providerId,
    bridge,
    ...(options.subnet ? { subnet: options.subnet } : {}),
    destroy,
    disconnect: (machine, options) => setLink(virsh, name, machine, 'down', options),
    connect: (machine, options) => setLink(virsh, name, machine, 'up', options),
    [Symbol.asyncDispose]: destroy,
  };
}
