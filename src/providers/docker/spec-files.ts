import type { FileSpec } from '../../core/provider.js';
import { packHostPath } from '../../files/host-tar.js';
import { singleFileTar } from '../../files/single-file-tar.js';
import { putTar, type TransferTarget } from './container-files.js';
import { withTopMode } from './top-mode.js';

/** Puts the spec's `files` in place, in order, in a created container before its command starts. */
export async function putFileSpecs(
  target: TransferTarget,
  files: readonly FileSpec[],
  signal: AbortSignal,
): Promise<void> {
  for (const file of files) {
    if ('content' in file) {
      const tar = singleFileTar(file.target, file.content, file.mode ?? 0o644);
      await putTar(target, tar, file.target, 'files', { signal });
      continue;
    }
    const packed = await packHostPath(file.source, file.target);
    // The archive carries the host's modes; a mode in the spec is for the copied file or directory itself.
    const tar =
      file.mode === undefined ? packed : withTopMode(packed, file.target.slice(1), file.mode);
    await putTar(target, tar, file.target, 'files', { signal, hostPath: file.source });
  }
}
