import { UnsupportedOperationError } from '../core/errors.js';
import type { FileSpec, Machine } from '../core/provider.js';

/** Puts each `files` entry of a spec in place, in order, through the machine's file transfer. */
export async function applyFileSpecs(
  machine: Machine,
  files: readonly FileSpec[],
  signal: AbortSignal,
): Promise<void> {
  if (files.length === 0) return;
  if (!machine.copyTo || !machine.writeFile || !machine.exec) {
    throw new UnsupportedOperationError('files in the spec', machine.providerId, {
      fix: 'Ask for a provider with FileTransfer, or copy the files in the test.',
    });
  }
  for (const file of files) {
    if ('content' in file) {
      await machine.writeFile(file.target, file.content, { signal, mode: file.mode ?? 0o644 });
      continue;
    }
    await machine.copyTo(file.source, file.target, { signal });
    if (file.mode !== undefined) {
      const chmod = await machine.exec(['chmod', file.mode.toString(8), file.target], { signal });
      if (chmod.exitCode !== 0) throw new Error(`chmod ${file.target}: ${chmod.stderr.trim()}`);
    }
  }
}
