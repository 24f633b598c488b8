import { z } from 'zod';
import { didYouMean } from './did-you-mean.js';

/** The engines a host entry can name. */
export type HostBackend = 'libvirt' | 'docker';

/** How testbed reaches a host's engine: a local socket, or over the network. */
export type HostTransport = 'local' | 'ssh' | 'tcp' | 'tls';

/** One entry of `TESTBED_HOSTS` (or the `hosts` option), parsed. */
export interface HostEntry {
  /** Host name: the `name=` prefix, else the URI's host name, else `local`. */
  name: string;
  /** Which engine. */
  backend: HostBackend;
  /** The engine's URI as given: `qemu+ssh://user@host/system`, `tcp://10.0.0.2:2375`. */
  uri: string;
  /** How the engine is reached. */
  transport: HostTransport;
  /** True when the engine runs on another machine (the URI names a host). */
  remote: boolean;
  /** Id of the provider instance for this entry: `libvirt@host2`; `libvirt`/`docker` for `local`. */
  providerId: string;
}

const BACKENDS: readonly HostBackend[] = ['libvirt', 'docker'];
const NAME = /^[a-z0-9][a-z0-9.-]*$/;
const LIBVIRT_TRANSPORTS: Record<string, HostTransport> = {
  qemu: 'local',
  'qemu+unix': 'local',
  'qemu+ssh': 'ssh',
  'qemu+libssh': 'ssh',
  'qemu+libssh2': 'ssh',
  'qemu+tcp': 'tcp',
  'qemu+tls': 'tls',
};
const DOCKER_TRANSPORTS: Record<string, HostTransport> = {
  unix: 'local',
  ssh: 'ssh',
  tcp: 'tcp',
};
const EXAMPLE =
  'e.g. libvirt:qemu+ssh://ci@host2/system, docker:tcp://10.0.0.2:2375 or host2=docker:ssh://ci@host2';

/** The parsed entry, or what is wrong with it. */
export type HostEntryResult = { ok: true; entry: HostEntry } | { ok: false; message: string };

function libvirtEntry(name: string | undefined, uri: string): HostEntryResult {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return { ok: false, message: `'${uri}' is not a libvirt URI (${EXAMPLE})` };
  }
  const scheme = url.protocol.slice(0, -1);
  const transport = LIBVIRT_TRANSPORTS[scheme];
  if (!transport) {
    return {
      ok: false,
      message: `'${scheme}' is not a QEMU driver URI testbed drives; use one of ${Object.keys(LIBVIRT_TRANSPORTS).join(', ')} (${EXAMPLE})`,
    };
  }
  if (url.pathname !== '/system' && url.pathname !== '/session') {
    return {
      ok: false,
      message: `'${uri}' names neither /system nor /session; end it in /system (the system daemon) or /session`,
    };
  }
  const remote = url.hostname !== '';
  if (!remote && transport !== 'local') {
    return { ok: false, message: `'${uri}' uses ${scheme} but names no host: add user@host` };
  }
  return { ok: true, entry: entryOf(name, 'libvirt', uri, transport, url.hostname) };
}

function dockerEntry(name: string | undefined, uri: string): HostEntryResult {
  const scheme = /^([a-z]+):\/\//.exec(uri)?.[1];
  const transport = scheme ? DOCKER_TRANSPORTS[scheme] : undefined;
  if (!scheme || !transport) {
    return {
      ok: false,
      message: `'${uri}' is not a Docker endpoint; use unix:///path/docker.sock, tcp://host:port or ssh://user@host`,
    };
  }
  if (transport === 'local') {
    const path = uri.slice('unix://'.length);
    if (!path.startsWith('/')) {
      return { ok: false, message: `'${uri}' needs an absolute socket path: unix:///path` };
    }
    return { ok: true, entry: entryOf(name, 'docker', uri, transport, '') };
  }
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return { ok: false, message: `'${uri}' is not a Docker endpoint URL (${EXAMPLE})` };
  }
  if (!url.hostname) return { ok: false, message: `'${uri}' names no host` };
  if (transport === 'tcp' && !url.port) {
    return {
      ok: false,
      message: `'${uri}' names no port: tcp://host:2375 (plain) or tcp://host:2376 (TLS)`,
    };
  }
  return { ok: true, entry: entryOf(name, 'docker', uri, transport, url.hostname) };
}

function entryOf(
  name: string | undefined,
  backend: HostBackend,
  uri: string,
  transport: HostTransport,
  hostname: string,
): HostEntry {
  // IPv6 hosts come bracketed; a host name is only a label here, so the brackets and colons go.
  const host =
    name ??
    (hostname
      .replace(/^\[|\]$/g, '')
      .replaceAll(':', '-')
      .toLowerCase() ||
      'local');
  return {
    name: host,
    backend,
    uri,
    transport,
    remote: hostname !== '',
    providerId: host === 'local' ? backend : `${backend}@${host}`,
  };
}

/** Parses one `[name=]backend:uri` entry; pure, never throws. */
export function parseHostEntry(text: string): HostEntryResult {
  const trimmed = text.trim();
  const equals = /^([^=:/]+)=(.*)$/.exec(trimmed);
  const name = equals?.[1]?.trim().toLowerCase();
  const rest = equals ? (equals[2] ?? '') : trimmed;
  if (name !== undefined && !NAME.test(name)) {
    return {
      ok: false,
      message: `host name '${name}' must be lowercase letters, digits, '.' and '-', starting with a letter or digit`,
    };
  }
  const colon = rest.indexOf(':');
  const backend = colon === -1 ? rest : rest.slice(0, colon);
  const uri = colon === -1 ? '' : rest.slice(colon + 1);
  if (!BACKENDS.includes(backend as HostBackend)) {
    const near = didYouMean(backend, BACKENDS);
    return {
      ok: false,
      message: `'${backend}' is not a backend${near ? ` (did you mean '${near}'?)` : ''}: start the entry with libvirt: or docker: (${EXAMPLE})`,
    };
  }
  if (!uri) return { ok: false, message: `no URI after '${backend}:' (${EXAMPLE})` };
  return backend === 'libvirt' ? libvirtEntry(name, uri) : dockerEntry(name, uri);
}

/**
 * Zod schema of a host list: entries with a `[name=]backend:uri` syntax. Every bad entry, and
 * every duplicate endpoint or provider id among the good ones, is an issue of its own with the
 * entry's index as path, so one pass reports them all.
 */
export const hostListSchema = z
  .array(z.string())
  .min(1, `must list at least one host (${EXAMPLE})`)
  .transform((texts, ctx): HostEntry[] => {
    const entries: HostEntry[] = [];
    const ids = new Map<string, number>();
    const uris = new Map<string, number>();
    texts.forEach((text, index) => {
      const result = parseHostEntry(text);
      if (!result.ok) {
        ctx.addIssue({
          code: 'custom',
          path: [index],
          message: `${result.message} (got "${text}")`,
        });
        return;
      }
      const { entry } = result;
      const endpoint = `${entry.backend}:${entry.uri}`;
      const sameUri = uris.get(endpoint);
      const sameId = ids.get(entry.providerId);
      if (sameUri !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [index],
          message: `${endpoint} is listed twice (also entry ${sameUri}); drop one`,
        });
      } else if (sameId !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [index],
          message: `provider id ${entry.providerId} is taken by entry ${sameId}; give this one another name: other=${endpoint}`,
        });
      } else {
        ids.set(entry.providerId, index);
        uris.set(endpoint, index);
        entries.push(entry);
      }
    });
    return entries;
  });

/** `TESTBED_HOSTS` as text: entries separated by commas and/or whitespace. */
export const hostsVariableSchema = z
  .string()
  .transform((text) => text.split(/[\s,]+/).filter(Boolean))
  .pipe(hostListSchema);
