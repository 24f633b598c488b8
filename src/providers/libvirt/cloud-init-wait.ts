import { ProvisionError } from '../../core/errors.js';
import type { LibvirtMachine } from './libvirt-machine.js';

const OUTPUT_LOG = '/var/log/cloud-init-output.log';

/**
 * Waits for `cloud-init status --wait` in the guest. A failure is reported with
 * `cloud-init status --long` and the tail of cloud-init's output log (read as root: the log is
 * not world-readable), so a bad user-data says what went wrong.
 */
export async function waitForCloudInit(
  machine: LibvirtMachine,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<void> {
  const waited = await machine.exec(['cloud-init', 'status', '--wait'], { timeoutMs, signal });
  if (waited.exitCode === 0) return;
  if (waited.exitCode === 127) {
    throw new ProvisionError(`${machine.name} has no cloud-init, but waitForCloudInit is on.`, {
      fix: 'Set waitForCloudInit: false, or use an image with cloud-init.',
    });
  }
  const asRoot = { user: 'root', timeoutMs: 30_000, signal };
  const status = await machine
    .exec(['cloud-init', 'status', '--long'], asRoot)
    .catch(() => undefined);
  const log = await machine.exec(['tail', '-n', '25', OUTPUT_LOG], asRoot).catch(() => undefined);
  const indent = (text: string | undefined) => (text ?? '').trim().split('\n').join('\n    ');
  throw new ProvisionError(
    `cloud-init failed on ${machine.name} (exit ${waited.exitCode}):\n    ${indent(status?.stdout || waited.stdout)}\n  Last lines of ${OUTPUT_LOG}:\n    ${indent(log?.stdout)}`,
    { fix: "Check the spec's userData (packages, runcmd, write_files) against the lines above." },
  );
}
