import { ImageNotFoundError, TestbedError } from '../../core/errors.js';
import type { RunCommand } from '../../core/run-command.js';
import { ensureImage } from '../../images/ensure-image.js';
import { builtInRecipes } from '../../images/image-recipes.js';
import { resolveVmImage } from '../../images/resolve-vm-image.js';
import type { VmImage, VmImageResolver } from './vm-image.js';

/**
 * Resolves a path (qcow2 file or built image directory) as is, and a built-in recipe name such
 * as `tiny-vm` through the image cache, building it first when missing or outdated.
 */
export function createImageResolver(options: {
  cacheDir: string;
  run: RunCommand;
  env: NodeJS.ProcessEnv;
}): VmImageResolver {
  return async (nameOrPath, signal): Promise<VmImage> => {
    try {
      const recipe = builtInRecipes().find((r) => r.name === nameOrPath);
      if (recipe?.kind === 'vm') {
        await ensureImage(nameOrPath, {
          cacheDir: options.cacheDir,
          run: options.run,
          env: options.env,
          ...(signal ? { signal } : {}),
        });
      }
      return await resolveVmImage(nameOrPath, { cacheDir: options.cacheDir, env: options.env });
    } catch (error) {
      signal?.throwIfAborted();
      if (error instanceof TestbedError) throw error;
      throw new ImageNotFoundError(nameOrPath, {
        cause: error,
        fix: 'Use a VM recipe name (`npx testbed images ls`) or the path of a qcow2 file.',
      });
    }
  };
}
