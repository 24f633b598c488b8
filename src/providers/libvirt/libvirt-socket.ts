import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where a libvirt URI's daemon listens: a local socket path, or `remote` for a URI with a host. */
export function libvirtSocketFor(
  uri: string,
  env: NodeJS.ProcessEnv = process.env,
): { remote: true } | { remote: false; candidates: string[] } {
  let parsed: URL;
  try {
    parsed = new URL(uri);
  } catch {
    return { remote: false, candidates: [] };
  }
  if (parsed.hostname) return { remote: true };
  const socket = parsed.searchParams.get('socket');
  if (socket) return { remote: false, candidates: [socket] };
  if (parsed.pathname === '/session') {
    const runtime = env.XDG_RUNTIME_DIR || join(env.HOME || homedir(), '.cache');
    return {
      remote: false,
      candidates: [
        join(runtime, 'libvirt', 'libvirt-sock'),
        join(runtime, 'libvirt', 'virtqemud-sock'),
      ],
    };
  }
  // Monolithic libvirtd, then the modular daemon newer distributions run instead.
  return {
    remote: false,
    candidates: ['/var/run/libvirt/libvirt-sock', '/var/run/libvirt/virtqemud-sock'],
  };
}
