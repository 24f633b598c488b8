import { execa } from 'execa';
import { hostListSchema } from '../src/core/hosts.js';
import type { Machine, VmBackendProvider, VmProvisioner } from '../src/core/provider.js';
import { createRunContext } from '../src/core/run-context.js';
import { VmBackendRegistry } from '../src/registry.js';
import { canStartRemoteHost, startRemoteHost } from '../test/integration/support/remote-host.js';
import { type Measurement, measureInterleaved } from './measure.js';

/**
 * Provision → SSH ready on a remote libvirt host against this one, same tiny image, cold boots
 * (remote hosts have no warm snapshots), in interleaved rounds; then the round trip of an exec
 * through the tunnel against the local forwarded port. The remote host is a namespaced libvirtd
 * on this machine (test/integration/support/remote-host.ts): the figures show the cost of the
 * storage API, the console mirror and the SSH tunnel, not of a network. Then the same for a
 * container on the host's own Docker engine (the engine API over `dial-stdio`, ports through the
 * tunnel) against the local engine and against the docker CLI's own `ssh://` transport.
 */
export async function benchRemoteHost(): Promise<Measurement[]> {
  if (!canStartRemoteHost({ docker: true })) return [];
  const rows: Measurement[] = [];
  const host = await startRemoteHost({ name: 'host2', docker: true });
  const run = createRunContext();
  const registry = VmBackendRegistry.withDefaults({
    hosts: hostListSchema.parse([
      `host2=libvirt:${host.libvirtUri}`,
      `host2=docker:${host.dockerEndpoint}`,
    ]),
  });
  const local = registry.get('libvirt');
  const remote = registry.get('libvirt@host2');
  const localDocker = registry.get('docker');
  const remoteDocker = registry.get('docker@host2');
  try {
    if (localDocker && remoteDocker && (await localDocker.isAvailable())) {
      rows.push(...(await benchContainers(localDocker, remoteDocker, host.dockerEnv, run)));
    }
    if (!local || !remote || !(await local.isAvailable())) return rows;
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
    rows.push(
      ...(await measureInterleaved(4, {
        'remote host: provision → SSH ready, this host': boot('local'),
        'remote host: provision → SSH ready, remote host (upload done)': boot('remote'),
      })),
    );
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

/** Container provision → ready (a published port answering) here and on the host, and raw `docker run` over ssh://; then exec round trips. */
async function benchContainers(
  local: VmBackendProvider,
  remote: VmBackendProvider,
  dockerEnv: Readonly<Record<string, string>>,
  run: ReturnType<typeof createRunContext>,
): Promise<Measurement[]> {
  const provisioners: Record<string, VmProvisioner> = {
    local: await local.createProvisioner({ run }),
    remote: await remote.createProvisioner({ run }),
  };
  const kept: Machine[] = [];
  const start = (where: string) => async () => {
    const machine = await provisioners[where]?.provision({ ports: [8080] });
    if (machine) kept.push(machine);
  };
  // Warm-up: builds the tiny image on each engine.
  await start('local')();
  await start('remote')();
  const [nearby, faraway] = kept;
  if (!nearby || !faraway) throw new Error('the warm-up provisioned no container');
  const image = (nearby.describe().data as { image: string }).image;
  const env = { ...process.env, ...dockerEnv };
  const raw = async () => {
    const { stdout } = await execa('docker', ['run', '-d', '-p', '127.0.0.1::8080', image], {
      env,
    });
    await execa('docker', ['rm', '-f', stdout.trim()], { env });
  };
  const rows = await measureInterleaved(4, {
    'remote host: container provision → ready, this engine': start('local'),
    'remote host: container provision → ready, remote engine': start('remote'),
    'remote host: raw `docker run -d` + `rm -f` over ssh:// (docker CLI)': raw,
  });
  const execs = (machine: Machine | undefined) => async () => {
    for (let i = 0; i < 20; i++) await machine?.exec?.(['true']);
  };
  rows.push(
    ...(await measureInterleaved(4, {
      'remote host: 20 container execs, this engine': execs(nearby),
      'remote host: 20 container execs, remote engine': execs(faraway),
    })),
  );
  for (const machine of kept) await machine.destroy().catch(() => {});
  await local.removeRun?.(run.runId);
  await remote.removeRun?.(run.runId);
  return rows;
}
