import type Dockerode from 'dockerode';

/** The parts of dockerode's modem that say how it reaches the engine. */
interface ModemEndpoint {
  /** A path, or (dockerode's default) a function finding one. */
  socketPath?: string | (() => string | Promise<string>);
  protocol?: string;
  version?: string;
  headers?: Record<string, string>;
}

/** Where to send raw HTTP to the engine dockerode talks to: its Unix socket, API path prefix and headers. */
export interface EngineSocket {
  socketPath: string;
  /** `/v1.41` when dockerode pins an API version, else empty. */
  prefix: string;
  headers: Record<string, string>;
}

/** The engine's Unix socket when dockerode talks to one over plain HTTP; undefined for TCP, TLS, SSH. */
export async function engineSocket(docker: Dockerode): Promise<EngineSocket | undefined> {
  const modem = docker.modem as ModemEndpoint;
  const socketPath =
    typeof modem.socketPath === 'function' ? await modem.socketPath() : modem.socketPath;
  if (typeof socketPath !== 'string' || modem.protocol !== 'http') return undefined;
  return {
    socketPath,
    prefix: modem.version ? `/${modem.version}` : '',
    headers: modem.headers ?? {},
  };
}
