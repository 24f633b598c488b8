import type { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { engineSocket } from './engine-socket.js';
import { socketGet } from './socket-get.js';

/**
 * The archive API's tar stream of `path` in the container: read straight off the engine's Unix
 * socket when dockerode talks to one (see `socketGet` for why), through dockerode otherwise (TCP,
 * TLS, SSH).
 */
export async function archiveStream(
  docker: Dockerode,
  containerId: string,
  path: string,
  signal: AbortSignal,
): Promise<Readable> {
  const engine = await engineSocket(docker);
  if (!engine) {
    return (await docker
      .getContainer(containerId)
      .getArchive({ path, abortSignal: signal })) as unknown as Readable;
  }
  const url = `${engine.prefix}/containers/${encodeURIComponent(containerId)}/archive?path=${encodeURIComponent(path)}`;
  return socketGet(engine.socketPath, url, engine.headers, signal);
}
