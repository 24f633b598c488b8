import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../../src/core/config.js';
import { processTable } from '../../../src/core/process-table.js';
import { runCommand } from '../../../src/core/run-command.js';
import { domainLogDir } from '../../../src/providers/libvirt/domain-log.js';

async function lines(file: string, args: string[]): Promise<string[]> {
  const result = await runCommand(file, args, { timeoutMs: 30_000 });
  return result.stdout.split('\n').filter(Boolean);
}

/**
 * Everything of `runId` on this host, one line each: Docker containers, networks and images by
 * label; libvirt domains and networks by name; QEMU processes; the run directory (overlays,
 * seeds, serial logs); libvirtd's own per-domain QEMU logs. Throws when a backend cannot be asked, so "nothing" is never a guess.
 */
export async function runLeftovers(runId: string, env = process.env): Promise<string[]> {
  const { libvirtUri, stateDir } = loadConfig(env);
  const label = `label=testbed.run=${runId}`;
  const [containers, networks, images, domains, nets] = await Promise.all([
    lines('docker', ['ps', '-aq', '--filter', label]),
    lines('docker', ['network', 'ls', '-q', '--filter', label]),
    lines('docker', ['images', '-q', '--filter', label]),
    lines('virsh', ['-q', '-c', libvirtUri, 'list', '--all', '--name']),
    lines('virsh', ['-q', '-c', libvirtUri, 'net-list', '--all', '--name']),
  ]);
  const qemus = processTable().filter(
    (p) => p.argv[0]?.includes('qemu-system') && p.argv.some((a) => a.includes(runId)),
  );
  const runDir = join(stateDir, runId);
  const logDir = domainLogDir(libvirtUri, env);
  const logs = logDir && existsSync(logDir) ? readdirSync(logDir) : [];
  return [
    ...containers.map((c) => `docker container ${c}`),
    ...networks.map((n) => `docker network ${n}`),
    ...images.map((i) => `docker image ${i}`),
    ...domains.filter((d) => d.includes(runId)).map((d) => `libvirt domain ${d}`),
    ...nets.filter((n) => n.includes(runId)).map((n) => `libvirt network ${n}`),
    ...qemus.map((p) => `qemu process ${p.pid}`),
    ...(existsSync(runDir) ? [`run directory ${runDir}`] : []),
    ...logs.filter((l) => l.startsWith(`testbed-${runId}-`)).map((l) => `libvirt log ${l}`),
  ];
}
