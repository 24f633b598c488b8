import type { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { engineSocket } from './engine-socket.js';
import { socketPut } from './socket-put.js';

/**
 * Extracts `tar` at the container's `/` through the archive API: written straight to the
 * engine's Unix socket when dockerode talks to one (see `socketPut`), through dockerode otherwise.
 */
export async function uploadArchive(
  docker: Dockerode,
  containerId: string,
  tar: Readable,
  signal: AbortSignal,
): Promise<void> {
  const engine = await engineSocket(docker);
  if (!engine) {
    await docker
      .getContainer(containerId)
      .putArchive(tar as unknown as NodeJS.ReadableStream, { path: '/', abortSignal: signal });
    return;
  }
  const url = `${engine.prefix}/containers/${encodeURIComponent(containerId)}/archive?path=%2F`;
  await socketPut(engine.socketPath, url, engine.headers, tar, signal);
}
