import { firstLine } from '../../core/first-line.js';

/** Who removes containers when the test process dies: testcontainers' Ryuk, or testbed's labels and reaper. */
export type ReaperMode = 'ryuk' | 'testbed-labels';

/** The outcome of deciding whether Ryuk can run on this engine. */
export interface RyukDecision {
  /** Which cleanup is in use. */
  mode: ReaperMode;
  /** The Ryuk image testcontainers would start. */
  image: string;
  /** Why, for `doctor`. */
  reason: string;
}

/** What `decideRyuk` needs from the engine; injected so unit tests pass fakes. */
export interface RyukProbe {
  /** The Ryuk image reference. */
  image: string;
  /** True when the image is present locally. */
  exists(image: string): Promise<boolean>;
  /** Pulls the image; rejects when it cannot (no registry, no network). */
  pull?(image: string): Promise<void>;
}

/**
 * Decides whether testcontainers may start Ryuk: yes when its image is present or can be pulled;
 * otherwise (air-gapped engines) every start would fail, so Ryuk is turned off and testbed's own
 * labels carry the cleanup. A user's explicit TESTCONTAINERS_RYUK_DISABLED=true is respected.
 */
export async function decideRyuk(
  probe: RyukProbe,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RyukDecision> {
  const image = probe.image;
  if (env.TESTCONTAINERS_RYUK_DISABLED === 'true') {
    return { mode: 'testbed-labels', image, reason: 'TESTCONTAINERS_RYUK_DISABLED=true is set' };
  }
  try {
    if (await probe.exists(image)) {
      return { mode: 'ryuk', image, reason: `${image} is present locally` };
    }
  } catch (error) {
    return {
      mode: 'testbed-labels',
      image,
      reason: `could not inspect ${image}: ${firstLine(error)}`,
    };
  }
  if (!probe.pull) {
    return {
      mode: 'testbed-labels',
      image,
      reason: `${image} is not present locally (a pull is tried when provisioning)`,
    };
  }
  try {
    await probe.pull(image);
    return { mode: 'ryuk', image, reason: `${image} was pulled` };
  } catch (error) {
    return {
      mode: 'testbed-labels',
      image,
      reason: `${image} is not present and cannot be pulled (${firstLine(error)})`,
    };
  }
}

/**
 * Makes testcontainers honour the decision. It reads TESTCONTAINERS_RYUK_DISABLED from
 * `process.env` when it starts its first container (in `getReaper`, once per process), so this
 * must run before the first `GenericContainer.start()`.
 */
export function applyRyukDecision(
  decision: RyukDecision,
  processEnv: NodeJS.ProcessEnv = process.env,
): void {
  if (decision.mode === 'testbed-labels') processEnv.TESTCONTAINERS_RYUK_DISABLED = 'true';
}
