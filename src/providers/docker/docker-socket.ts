import { accessSync, constants, existsSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
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

/** False when this process may not open the socket (EACCES): a present file is not proof of access. */
export function socketUsable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code !== 'EACCES' && code !== 'EPERM';
  }
}

function deniedReason(path: string, env: NodeJS.ProcessEnv): string {
  const user = env.USER || userInfo().username;
  return `${path} is there, but user ${user} may not use it (not in group docker): run \`sudo usermod -aG docker ${user}\`, then log out and in again (or use rootless Docker through DOCKER_HOST)`;
}

/**
 * Finds the Docker endpoint from `DOCKER_HOST` or a socket file, without connecting: fast and
 * never throws. A `unix://` DOCKER_HOST whose socket file is missing, or a socket this user may
 * not open, counts as not found.
 */
export function findDockerEndpoint(
  env: NodeJS.ProcessEnv = process.env,
  exists: (path: string) => boolean = existsSync,
  usable: (path: string) => boolean = socketUsable,
): DockerEndpoint {
  try {
    const host = env.DOCKER_HOST?.trim();
    if (host) {
      if (!host.startsWith('unix://')) return { found: true, endpoint: host };
      const path = host.slice('unix://'.length);
      if (exists(path) && !usable(path)) {
        return { found: false, endpoint: host, reason: deniedReason(path, env) };
      }
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
    if (socket && !usable(socket)) {
      return { found: false, endpoint: `unix://${socket}`, reason: deniedReason(socket, env) };
    }
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
