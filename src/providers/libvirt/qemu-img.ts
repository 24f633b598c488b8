import { type RunCommand, runCommand } from '../../core/run-command.js';

/** Creates a qcow2 overlay whose backing file is `backing` (qcow2); the backing file is never written. */
export async function createOverlay(
  backing: string,
  overlay: string,
  options: { run?: RunCommand; signal?: AbortSignal } = {},
): Promise<void> {
  const run = options.run ?? runCommand;
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', backing, '-F', 'qcow2', overlay], {
    timeoutMs: 30_000,
    ...(options.signal ? { signal: options.signal } : {}),
  });
}
