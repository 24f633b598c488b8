import pRetry from 'p-retry';
import { removeDomainLogs } from './domain-log.js';
import type { Virsh } from './virsh.js';

const GONE =
  /failed to get domain|domain not found|no domain with matching|network not found|no network with matching|failed to get network/i;
const NOT_RUNNING = /not running|is not active/i;

async function step(virsh: Virsh, args: readonly string[], signal?: AbortSignal): Promise<void> {
  const result = await virsh.call(args, {
    reject: false,
    timeoutMs: 30_000,
    ...(signal ? { signal } : {}),
  });
  if (result.exitCode === 0 || GONE.test(result.stderr) || NOT_RUNNING.test(result.stderr)) return;
  throw new Error(`virsh ${args.join(' ')}: ${result.stderr.trim()}`);
}

function retried(work: () => Promise<void>, signal?: AbortSignal): Promise<void> {
  return pRetry(work, {
    retries: 3,
    minTimeout: 200,
    maxTimeout: 2_000,
    ...(signal ? { signal } : {}),
  });
}

/** Stops and forgets a domain; a domain that is already gone counts as done. Retried with backoff. */
export async function teardownDomain(
  virsh: Virsh,
  name: string,
  signal?: AbortSignal,
): Promise<void> {
  await retried(() => step(virsh, ['destroy', name], signal), signal);
  // Transient domains vanish on destroy; persistent ones (left by older code or by hand) need this.
  await retried(() => step(virsh, ['undefine', name], signal), signal);
  // libvirtd keeps each domain's QEMU log after the domain is gone; it is ours to remove.
  await removeDomainLogs(virsh.uri, `${name}.log`);
}

/** Stops and forgets a network; one that is already gone counts as done. Retried with backoff. */
export async function teardownNetwork(
  virsh: Virsh,
  name: string,
  signal?: AbortSignal,
): Promise<void> {
  await retried(() => step(virsh, ['net-destroy', name], signal), signal);
  await retried(() => step(virsh, ['net-undefine', name], signal), signal);
}
