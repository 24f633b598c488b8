import type { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { socketGet } from './socket-get.js';

/** The parts of dockerode's modem that say how it reaches the engine. */
interface ModemEndpoint {
  /** A path, or (dockerode's default) a function finding one. */
  socketPath?: string | (() => string | Promise<string>);
  protocol?: string;
  version?: string;
  headers?: Record<string, string>;
}

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
  const modem = docker.modem as ModemEndpoint;
  const socketPath =
    typeof modem.socketPath === 'function' ? await modem.socketPath() : modem.socketPath;
  if (typeof socketPath !== 'string' || modem.protocol !== 'http') {
    return (await docker
      .getContainer(containerId)
      .getArchive({ path, abortSignal: signal })) as unknown as Readable;
  }
  const version = modem.version ? `/${modem.version}` : '';
  const url = `${version}/containers/${encodeURIComponent(containerId)}/archive?path=${encodeURIComponent(path)}`;
  return socketGet(socketPath, url, modem.headers ?? {}, signal);
}
