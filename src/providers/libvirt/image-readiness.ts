import type { VmImage } from './vm-image.js';

/** What readiness means for a machine of `image`: the spec's choice, else the image manifest's. */
export function imageReadiness(
  asked: {
    readyPattern?: string | RegExp | null | undefined;
    waitForCloudInit?: boolean | undefined;
  },
  image: Pick<VmImage, 'ready'>,
): { readyPattern: string | RegExp | null; cloudInit: boolean } {
  return {
    readyPattern:
      asked.readyPattern !== undefined
        ? asked.readyPattern
        : image.ready?.kind === 'console'
          ? new RegExp(image.ready.pattern)
          : null,
    cloudInit: asked.waitForCloudInit ?? image.ready?.kind === 'cloud-init',
  };
}
