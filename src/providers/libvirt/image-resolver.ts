import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageNotFoundError, TestbedError } from '../../core/errors.js';
import type { RunCommand } from '../../core/run-command.js';
import { ensureImage } from '../../images/ensure-image.js';
import { readVmImageManifest } from '../../images/vm-image-manifest.js';
import type { VmImage, VmImageResolver } from './provisioner.js';

/**
 * Resolves a path to a qcow2 file as is (booting from its disk), and a name such as `tiny-vm`
 * through the image cache, building it from its recipe when missing (kernel, initrd, cmdline).
 */
export function createImageResolver(options: {
  cacheDir: string;
  run: RunCommand;
  env: NodeJS.ProcessEnv;
}): VmImageResolver {
  return async (nameOrPath, signal): Promise<VmImage> => {
    if (nameOrPath.includes('/')) {
      await access(nameOrPath).catch((cause: unknown) => {
        throw new ImageNotFoundError(nameOrPath, {
          cause,
          fix: 'Pass the path of an existing qcow2 file, or the name of a cached image such as tiny-vm.',
        });
      });
      return { base: nameOrPath };
    }
    try {
      const image = await ensureImage(nameOrPath, {
        cacheDir: options.cacheDir,
        run: options.run,
        env: options.env,
        ...(signal ? { signal } : {}),
      });
      if (image.kind !== 'vm') throw new Error(`'${nameOrPath}' is a ${image.kind} image`);
      const manifest = await readVmImageManifest(image.location);
      return {
        base: join(image.location, manifest.files.base.path),
        kernel: join(image.location, manifest.files.kernel.path),
        initrd: join(image.location, manifest.files.initrd.path),
        cmdline: manifest.cmdline,
      };
    } catch (error) {
      if (error instanceof TestbedError) throw error;
      throw new ImageNotFoundError(nameOrPath, {
        cause: error,
        fix: 'Use a VM recipe name (`npx testbed images ls`) or the path of a qcow2 file.',
      });
    }
  };
}
