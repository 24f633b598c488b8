import type { ContainerRuntimeClient } from 'testcontainers';
import { ensureImage } from '../../images/ensure-image.js';
import type { DefaultImage } from './provisioner.js';

/** The line testbed's tiny container prints once it runs (`fixtures/images/tiny-container/testbed-init`). */
export const TINY_READY_LOG = /testbed-ready \S+/;

/** testbed's tiny container image, built through the engine on first use (no pull), then reused. */
export function tinyContainerImage(
  env: NodeJS.ProcessEnv = process.env,
): () => Promise<DefaultImage> {
  let resolving: Promise<DefaultImage> | undefined;
  return () => {
    resolving ??= ensureImage('tiny-container', { env }).then(
      (ensured) => ({ image: ensured.location, readyLog: TINY_READY_LOG }),
      (error: unknown) => {
        // A failed build may succeed on a later call (e.g. after installing busybox-static).
        resolving = undefined;
        throw error;
      },
    );
    return resolving;
  };
}

/** Which tiny container images the engine holds, or that it is built on first use. */
export async function tinyImageStatus(client: ContainerRuntimeClient): Promise<string> {
  const images = await client.container.dockerode.listImages({
    filters: JSON.stringify({ reference: ['testbed/tiny'] }),
  });
  const tags = images.flatMap((i) => i.RepoTags ?? []).filter((t) => !t.endsWith(':latest'));
  return tags.length > 0
    ? tags.join(', ')
    : 'not built yet: built on first use (about 1 s), or now with `npx testbed images build tiny-container`';
}
