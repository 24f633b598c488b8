import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CommandFailedError } from '../../core/errors.js';
import { type RunContext, shortId } from '../../core/run-context.js';
import {
  type AcceleratorChoice,
  cachedAccelerator,
  probeDomainXml,
  rememberAccelerator,
} from './accelerator-probe.js';
import type { HostPool } from './host-pool.js';
import { teardownDomain } from './teardown.js';
import type { Virsh } from './virsh.js';

/** What the probe of a remote host uses. */
export interface RemoteProbeOptions {
  /** virsh bound to the host. */
  virsh: Virsh;
  /** The host's pool (the probe's console is a volume of it). */
  pool: HostPool;
  /** A kernel already on the host. */
  kernel: string;
  /** Local directory for the cache and the probe's XML. */
  stateDir: string;
  /** Run stamped on the probe domain and volume, so the reaper finds them. */
  run: RunContext;
  /** Aborts the probe. */
  signal?: AbortSignal | undefined;
  /** Bound on the KVM boot. Default 6 s. */
  timeoutMs?: number;
}

/**
 * The accelerator that really works on a remote host: TCG when its libvirt offers no KVM, else a
 * KVM guest booting the uploaded kernel must print its banner into a log volume within 6 s.
 * Cached beside the local answer, keyed by the host's URI.
 */
export async function probeRemoteAccelerator(
  options: RemoteProbeOptions,
): Promise<AcceleratorChoice> {
  const cached = await cachedAccelerator(options);
  if (cached) return cached;
  const withSignal = options.signal ? { signal: options.signal } : {};
  let choice: AcceleratorChoice;
  try {
    await options.virsh.call(['domcapabilities', '--virttype', 'kvm'], {
      timeoutMs: 10_000,
      ...withSignal,
    });
    choice = (await bootsUnderKvm(options))
      ? { accelerator: 'kvm', verified: true }
      : {
          accelerator: 'tcg',
          reason: `the host offers KVM but a KVM guest does not start (no kernel output within ${Math.round((options.timeoutMs ?? 6_000) / 1000)} s)`,
          verified: true,
        };
  } catch (error) {
    if (!(error instanceof CommandFailedError)) throw error;
    choice = {
      accelerator: 'tcg',
      reason: `the host's libvirt cannot use KVM: ${error.stderr.trim() || `exit ${error.exitCode}`}`,
      verified: true,
    };
  }
  await rememberAccelerator(options, choice);
  return choice;
}

async function bootsUnderKvm(options: RemoteProbeOptions): Promise<boolean> {
  const name = `testbed-${options.run.runId}-probe-${shortId(6)}`;
  const logVolume = `${name}-serial.log`;
  const local = join(options.stateDir, `${name}.log`);
  const xmlPath = join(options.stateDir, `${name}.xml`);
  const withSignal = options.signal ? { signal: options.signal } : {};
  try {
    const log = await options.pool.createEmpty(logVolume, options.signal);
    await writeFile(xmlPath, probeDomainXml(name, options.kernel, log, options.run));
    try {
      await options.virsh.call(['create', xmlPath], { timeoutMs: 30_000, ...withSignal });
    } catch (error) {
      if (error instanceof CommandFailedError) return false;
      throw error;
    }
    const deadline = Date.now() + (options.timeoutMs ?? 6_000);
    while (Date.now() < deadline) {
      options.signal?.throwIfAborted();
      await options.pool.download(logVolume, local, 0, options.signal).catch(() => undefined);
      const text = await readFile(local, 'utf8').catch(() => '');
      if (text.includes('Linux version')) return true;
      await sleep(500);
    }
    return false;
  } finally {
    await teardownDomain(options.virsh, name).catch(() => undefined);
    await options.pool.delete(logVolume).catch(() => undefined);
    await rm(local, { force: true });
    await rm(xmlPath, { force: true });
  }
}
