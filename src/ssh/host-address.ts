import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';

/** How testbed itself reaches a remote host over SSH, read from its libvirt URI or Docker endpoint. */
export interface HostAddress {
  /** The host as the URI names it (no brackets for IPv6). */
  host: string;
  /** SSH port: the URI's, else 22. */
  port: number;
  /** SSH user: the URI's, else the local user (as OpenSSH does). */
  username: string;
  /** Private key files to try: the URI's `keyfile`, else OpenSSH's default identities. */
  keyFiles: string[];
  /** Known-hosts file the host key must be in: the URI's `known_hosts`, else `~/.ssh/known_hosts`. */
  knownHosts: string;
  /** The URI's `no_verify=1`: accept any host key, as libvirt then does. */
  noVerify: boolean;
}

/** Schemes that run over SSH, so guest ports can be tunnelled over the same host: libvirt's and Docker's. */
const SSH_SCHEMES = new Set(['qemu+ssh', 'qemu+libssh', 'qemu+libssh2', 'ssh']);

/**
 * The SSH address of a remote libvirt URI or Docker `ssh://` endpoint (pure), mirroring libvirt's
 * own URI parameters (`keyfile`, `known_hosts`, `no_verify`, which a Docker endpoint may carry
 * too) so one URI configures both; undefined for a URI that does not run over SSH.
 */
export function hostAddressOf(
  uri: string,
  env: NodeJS.ProcessEnv = process.env,
  localUser: () => string = () => userInfo().username,
): HostAddress | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  if (!SSH_SCHEMES.has(url.protocol.slice(0, -1)) || !url.hostname) return undefined;
  const home = env.HOME || homedir();
  const keyfile = url.searchParams.get('keyfile');
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : 22,
    username: decodeURIComponent(url.username) || localUser(),
    keyFiles: keyfile
      ? [keyfile]
      : ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((name) => join(home, '.ssh', name)),
    knownHosts: url.searchParams.get('known_hosts') ?? join(home, '.ssh', 'known_hosts'),
    noVerify: url.searchParams.get('no_verify') === '1',
  };
}
