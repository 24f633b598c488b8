import { createHmac } from 'node:crypto';

/** How a known-hosts line writes a host: bare on port 22, `[host]:port` otherwise. */
function hostPattern(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function matchesName(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    // Hashed (HashKnownHosts): |1|base64 salt|base64 HMAC-SHA1 of the name under that salt.
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return false;
    const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return mac === hash;
  }
  return field.split(',').includes(name);
}

/**
 * Whether `knownHosts` (a known_hosts file's text) vouches for `key` (the server's public key
 * blob, base64) at `host:port`, plain or hashed (pure). A `@revoked` line for the key refuses it;
 * wildcards are not matched.
 */
export function knownHostAccepts(
  knownHosts: string,
  host: string,
  port: number,
  key: string,
): boolean {
  const name = hostPattern(host, port);
  let accepted = false;
  for (const raw of knownHosts.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    const marker = fields[0]?.startsWith('@') ? fields.shift() : undefined;
    const [names, , blob] = fields;
    if (!names || blob !== key || !matchesName(names, name)) continue;
    if (marker === '@revoked') return false;
    if (marker === undefined) accepted = true;
  }
  return accepted;
}
