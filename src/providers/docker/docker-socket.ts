import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where the Docker engine is expected, as found without connecting to it. */
export interface DockerEndpoint {
  /** True when an engine endpoint is configured or a socket file is present. */
  found: boolean;
  /** The endpoint: `DOCKER_HOST` as given, or `unix://<socket path>`. */
  endpoint?: string | undefined;
  /** Why no engine was found, naming what was looked at. */
  reason?: string | undefined;
}

/** Socket paths Docker Engine, rootless Docker and Docker Desktop use, most common first. */
export function defaultSocketPaths(env: NodeJS.ProcessEnv): string[] {
  const home = env.HOME || homedir();
  return [
    '/var/run/docker.sock',
    ...(env.XDG_RUNTIME_DIR ? [join(env.XDG_RUNTIME_DIR, 'docker.sock')] : []),
    join(home, '.docker', 'run', 'docker.sock'),
    join(home, '.docker', 'desktop', 'docker.sock'),
  ];
}

/**
 * Finds the Docker endpoint from `DOCKER_HOST` or a socket file, without connecting: fast and
 * never throws. A `unix://` DOCKER_HOST whose socket file is missing counts as not found.
 */
export function findDockerEndpoint(
  env: NodeJS.ProcessEnv = process.env,
  exists: (path: string) => boolean = existsSync,
): DockerEndpoint {
  try {
    const host = env.DOCKER_HOST?.trim();
    if (host) {
      if (!host.startsWith('unix://')) return { found: true, endpoint: host };
      const path = host.slice('unix://'.length);
      return exists(path)
        ? { found: true, endpoint: host }
        : {
            found: false,
            endpoint: host,
            reason: `DOCKER_HOST=${host} but there is no socket at ${path}`,
          };
    }
    const candidates = defaultSocketPaths(env);
    const socket = candidates.find((path) => exists(path));
    return socket
      ? { found: true, endpoint: `unix://${socket}` }
      : {
          found: false,
          reason: `no Docker socket found (looked at ${candidates.join(', ')}) and DOCKER_HOST is not set`,
        };
  } catch (error) {
    return { found: false, reason: `could not look for a Docker socket: ${String(error)}` };
  }
}
