import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import type { PrepareSpec } from '../../core/provider.js';
import { prepareDigest, runPrepareSteps } from '../../files/prepare-steps.js';
import { acquireImageLock } from '../../images/image-lock.js';
import type { DockerMachine } from './docker-machine.js';
import type { DockerSpec } from './spec.js';

/** Repository of prepared images: kept across runs, one tag per base image and prepare. */
export const PREPARED_REPO = 'testbed/prepared';
/** Label naming the prepare a prepared image holds. */
const PREPARED_LABEL = 'testbed.prepared';

/** What making a prepared image needs from the provisioner. */
export interface PreparedImageDeps {
  docker: Dockerode;
  /** Directory for the cross-process lock files. */
  lockDir: string;
  /** Starts a container from `spec` (no prepare of its own). */
  start: (spec: DockerSpec) => Promise<DockerMachine>;
  /** Commits a container as `repo:tag` with `labels`. */
  commit: (
    machine: DockerMachine,
    repo: string,
    tag: string,
    labels: Record<string, string>,
  ) => Promise<void>;
}

async function exists(docker: Dockerode, ref: string): Promise<boolean> {
  return docker
    .getImage(ref)
    .inspect()
    .then(
      () => true,
      () => false,
    );
}

/**
 * The image `spec` runs once its `prepare` has been applied: `testbed/prepared:<key>`, where the
 * key covers the base image's id, the command the container runs and the prepare's content. Made
 * once (under a lock shared by the host's processes) by running the steps in a container of the
 * base image and committing it; found by its tag afterwards.
 */
export async function preparedImage(
  deps: PreparedImageDeps,
  spec: DockerSpec & { prepare: PrepareSpec },
  image: string,
  signal?: AbortSignal,
): Promise<string> {
  const base = await deps.docker.getImage(image).inspect();
  const tag = createHash('sha256')
    .update(
      JSON.stringify({
        base: base.Id,
        command: spec.command ?? null,
        entrypoint: spec.entrypoint ?? null,
        env: spec.env ?? null,
        prepare: await prepareDigest(spec.prepare),
      }),
    )
    .digest('hex')
    .slice(0, 24);
  const ref = `${PREPARED_REPO}:${tag}`;
  if (await exists(deps.docker, ref)) return ref;
  const lock = await acquireImageLock(join(deps.lockDir, `.prepared-${tag}.lock`), {
    ...(signal ? { signal } : {}),
  });
  try {
    if (await exists(deps.docker, ref)) return ref;
    const { prepare: _prepare, files: _files, waitFor: _waitFor, ports: _ports, ...plain } = spec;
    const machine = await deps.start({ ...plain, image, name: 'prepare' });
    try {
      await runPrepareSteps(machine, spec.prepare, signal ?? new AbortController().signal);
      await deps.commit(machine, PREPARED_REPO, tag, { [PREPARED_LABEL]: tag });
    } finally {
      await machine.destroy().catch(() => {});
    }
    return ref;
  } finally {
    await lock.release();
  }
}
