import type { GenericContainer } from 'testcontainers';
import type { TestcontainersModule } from './load-testcontainers.js';

/** What a start reports back while testcontainers runs it, so a failed or aborted start can be undone. */
export interface StartTracker {
  /** Id of the container once it exists. */
  containerId?: string | undefined;
  /** Set when the caller gave up; the start is stopped at the next hook. */
  cancelled: boolean;
  /** Runs on the created container before it starts (to put files in place). */
  beforeStart?: ((containerId: string) => Promise<void>) | undefined;
}

/** The `GenericContainer` subclass testbed starts: ports published on 127.0.0.1 only, creation tracked, a hook before the start. */
export type LoopbackContainerClass = new (image: string, tracker: StartTracker) => GenericContainer;

const classes = new WeakMap<TestcontainersModule, LoopbackContainerClass>();

/** The subclass, built once per loaded testcontainers module (it extends a class loaded lazily). */
export function loopbackContainerClass(tc: TestcontainersModule): LoopbackContainerClass {
  const known = classes.get(tc);
  if (known) return known;
  class LoopbackContainer extends tc.GenericContainer {
    constructor(
      image: string,
      private readonly tracker: StartTracker,
    ) {
      super(image);
    }

    protected override async beforeContainerCreated(): Promise<void> {
      // testcontainers binds published ports on every interface; tests must reach them on loopback only.
      for (const bindings of Object.values(this.hostConfig.PortBindings ?? {})) {
        for (const binding of bindings as { HostIp?: string }[]) binding.HostIp = '127.0.0.1';
      }
    }

    protected override async containerCreated(containerId: string): Promise<void> {
      this.tracker.containerId = containerId;
      if (this.tracker.cancelled) throw new Error('provisioning was cancelled');
      await this.tracker.beforeStart?.(containerId);
    }
  }
  classes.set(tc, LoopbackContainer);
  return LoopbackContainer;
}
