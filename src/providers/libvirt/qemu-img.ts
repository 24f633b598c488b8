import { type RunCommand, runCommand } from '../../core/run-command.js';

/** Creates a qcow2 overlay whose backing file is `backing`; the backing file is never written. */
export async function createOverlay(
  backing: string,
  overlay: string,
  options: {
    run?: RunCommand;
    signal?: AbortSignal;
    format?: 'qcow2' | 'raw';
    /** Virtual size of the overlay; larger than the base makes room (the guest grows into it). */
    sizeGiB?: number | undefined;
  } = {},
): Promise<void> {
  const run = options.run ?? runCommand;
  const format = options.format ?? 'qcow2';
  const size = options.sizeGiB === undefined ? [] : [`${options.sizeGiB}G`];
  const args = ['create', '-q', '-f', 'qcow2', '-b', backing, '-F', format, overlay, ...size];
  await run('qemu-img', args, {
    timeoutMs: 30_000,
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

/** The virtual size of a disk image in bytes, as `qemu-img info` reports it. */
export async function virtualSizeOf(
  image: string,
  options: { run?: RunCommand; signal?: AbortSignal } = {},
): Promise<number> {
  const run = options.run ?? runCommand;
  const { stdout } = await run('qemu-img', ['info', '-U', '--output=json', image], {
    timeoutMs: 30_000,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return (JSON.parse(stdout) as { 'virtual-size': number })['virtual-size'];
}
