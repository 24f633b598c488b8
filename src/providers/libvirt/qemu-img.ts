import { type RunCommand, runCommand } from '../../core/run-command.js';

/** Creates a qcow2 overlay whose backing file is `backing`; the backing file is never written. */
export async function createOverlay(
  backing: string,
  overlay: string,
  options: { run?: RunCommand; signal?: AbortSignal; format?: 'qcow2' | 'raw' } = {},
): Promise<void> {
  const run = options.run ?? runCommand;
  const format = options.format ?? 'qcow2';
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', backing, '-F', format, overlay], {
    timeoutMs: 30_000,
    ...(options.signal ? { signal: options.signal } : {}),
  });
}
