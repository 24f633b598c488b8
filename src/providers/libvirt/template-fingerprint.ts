import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { TemplateFingerprint } from '../../images/template-store.js';
import type { Accelerator } from './accelerator-probe.js';
import { describeVirshVersion } from './virsh-version.js';

/** What the fingerprint is read from; injected so unit tests pass plain values. */
export interface FingerprintSources {
  /** `virsh version` output. */
  virshVersion: string;
  /** The accelerator guests run under. */
  accelerator: Accelerator;
  /** Path of the QEMU binary libvirt starts. */
  emulator: string;
  /** `/proc/cpuinfo`'s text. */
  cpuinfo: string;
}

/** The QEMU binary libvirt starts for x86_64 guests on Debian. */
export const DEFAULT_EMULATOR = '/usr/bin/qemu-system-x86_64';

/** The first processor's model and flags: a saved guest with a host CPU model restores only on the same CPU. */
function cpuIdentity(cpuinfo: string): string {
  const first = cpuinfo.split(/\n\s*\n/)[0] ?? '';
  const field = (name: string) =>
    new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(first)?.[1]?.trim() ?? '?';
  const flags = createHash('sha256').update(field('flags')).digest('hex').slice(0, 12);
  return `${field('model name')} (flags ${flags})`;
}

/**
 * Everything outside a template's spec and image that decides whether its saved memory restores
 * here: libvirt and QEMU versions, the QEMU binary itself (a rebuilt package keeps its version),
 * the accelerator and the host CPU. Memory, vCPUs, machine shape and devices follow from the spec
 * and testbed's version, which are in the key.
 */
export async function templateFingerprint(
  sources: FingerprintSources,
): Promise<TemplateFingerprint> {
  const binary = await stat(sources.emulator).catch(() => undefined);
  return {
    versions: describeVirshVersion(sources.virshVersion),
    emulator: binary
      ? `${sources.emulator} ${binary.size} bytes, modified ${new Date(binary.mtimeMs).toISOString()}`
      : `${sources.emulator} (not found)`,
    accelerator: sources.accelerator,
    cpu: cpuIdentity(sources.cpuinfo),
  };
}

/** Reads `/proc/cpuinfo`, or nothing where there is none. */
export function readCpuinfo(): Promise<string> {
  return readFile('/proc/cpuinfo', 'utf8').catch(() => '');
}
