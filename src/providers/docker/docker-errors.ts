/** The engine's own words for a container (or its exec instance) that no longer exists. */
const NO_SUCH_CONTAINER = /No such container|No such exec instance|is marked for removal/;

function text(error: unknown): string {
  return String((error as Error)?.message ?? error);
}

/**
 * True when a Docker API error says the container is gone. dockerode labels every 404 "no such
 * container" (a missing file in an archive call too), so the engine's message decides, not the status.
 */
export function isNoSuchContainer(error: unknown): boolean {
  return NO_SUCH_CONTAINER.test(text(error));
}

/** True when a Docker API error says the container is stopped or paused (HTTP 409). */
export function isNotRunning(error: unknown): boolean {
  return (
    (error as { statusCode?: number })?.statusCode === 409 || /is not running/.test(text(error))
  );
}
