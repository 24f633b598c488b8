import type { ContainerRuntimeClient } from 'testcontainers';
import { ImageNotFoundError } from '../../core/errors.js';
import { withTimeout } from '../../core/with-timeout.js';
import type { TestcontainersModule } from './load-testcontainers.js';

/** How to get an image onto an engine that has no registry, for error messages. */
export function imageFix(image: string): string {
  return (
    `Build testbed's default image with \`npx testbed images build tiny-container\`, ` +
    `load a saved image with \`docker load -i <file.tar>\`, or build ${image} with \`docker build -t ${image} .\`.`
  );
}

/**
 * Makes sure `image` is on the engine: present locally, or pulled within `timeoutMs`. Checks
 * locally first so a missing image fails fast instead of at a pull timeout.
 */
export async function ensureImagePresent(
  tc: TestcontainersModule,
  client: ContainerRuntimeClient,
  image: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const name = tc.ImageName.fromString(image);
  if (await client.image.exists(name)) return;
  try {
    await withTimeout(
      `pulling ${image}`,
      timeoutMs,
      () => client.image.pull(name, { force: false, platform: undefined }),
      signal,
    );
  } catch (error) {
    signal?.throwIfAborted();
    throw new ImageNotFoundError(image, {
      cause: error,
      fix: `It is not present locally and could not be pulled. ${imageFix(image)}`,
    });
  }
  // A pull that the registry refuses can still end "successfully": the refusal is in the stream.
  if (!(await client.image.exists(name))) {
    throw new ImageNotFoundError(image, {
      fix: `It is not present locally and the pull did not produce it. ${imageFix(image)}`,
    });
  }
}
