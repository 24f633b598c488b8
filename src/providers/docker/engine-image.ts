import { readFile } from 'node:fs/promises';
import type Dockerode from 'dockerode';
import { pack } from 'tar-stream';
import { ImageBuildError } from '../../core/errors.js';
import { withTimeout } from '../../core/with-timeout.js';
import { tinyContainerBuild } from '../../images/tiny-container-recipe.js';
import { TINY_READY_LOG } from './default-image.js';
import type { DefaultImage } from './provisioner.js';

const BUILD_TIMEOUT_MS = 300_000;
/** Context files that run in the image. */
const EXECUTABLES = new Set(['busybox', 'testbed-init']);

async function hasImage(docker: Dockerode, reference: string): Promise<boolean> {
  return docker
    .getImage(reference)
    .inspect()
    .then(
      () => true,
      (error: { statusCode?: number }) => {
        if (error.statusCode === 404) return false;
        throw error;
      },
    );
}

/** What the build stream said went wrong, if anything (a failed build still ends the stream normally). */
function buildError(output: readonly { error?: string; errorDetail?: { message?: string } }[]) {
  const failed = output.find((entry) => entry.error ?? entry.errorDetail);
  return failed ? (failed.errorDetail?.message ?? failed.error ?? 'unknown error') : undefined;
}

/** Builds testbed's tiny container image on `docker` through the engine API (context sent from here). */
async function buildOnEngine(docker: Dockerode, where: string): Promise<DefaultImage> {
  const build = await tinyContainerBuild();
  const [reference] = build.tags;
  if (await hasImage(docker, reference)) return { image: reference, readyLog: TINY_READY_LOG };
  const context = pack();
  for (const [name, path] of Object.entries(build.files)) {
    context.entry({ name, mode: EXECUTABLES.has(name) ? 0o755 : 0o644 }, await readFile(path));
  }
  context.finalize();
  const fail = (reason: string, cause?: unknown) =>
    new ImageBuildError(`Building ${reference} on ${where} failed: ${reason}`, {
      cause,
      fix: `Check that the engine on ${where} can build images (\`docker -H <endpoint> info\`), then run the test again.`,
    });
  await withTimeout(`building ${reference} on ${where}`, BUILD_TIMEOUT_MS, async () => {
    const stream = await docker.buildImage(context as unknown as NodeJS.ReadableStream, {
      t: reference,
      labels: build.labels,
      forcerm: true,
    });
    const output = await new Promise<{ error?: string; errorDetail?: { message?: string } }[]>(
      (resolve, reject) =>
        docker.modem.followProgress(stream, (error, result) =>
          error ? reject(error) : resolve(result),
        ),
    ).catch((error: unknown) => {
      throw fail(String((error as Error).message ?? error), error);
    });
    const reason = buildError(output);
    if (reason) throw fail(reason);
  });
  if (!(await hasImage(docker, reference))) throw fail(`the engine did not tag ${reference}`);
  return { image: reference, readyLog: TINY_READY_LOG };
}

/** testbed's tiny container image on a remote engine: built there through its API on first use, then reused. */
export function engineTinyImage(docker: Dockerode, where: string): () => Promise<DefaultImage> {
  let resolving: Promise<DefaultImage> | undefined;
  return () => {
    resolving ??= buildOnEngine(docker, where).catch((error: unknown) => {
      resolving = undefined;
      throw error;
    });
    return resolving;
  };
}
