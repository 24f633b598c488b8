/** One `deb` source: a mirror, a suite and its components. */
export interface AptSource {
  /** Mirror URI, e.g. `http://deb.debian.org/debian`. */
  uri: string;
  /** Suite, e.g. `bookworm` or `bookworm-security`. */
  suite: string;
  /** Components, e.g. `['main']`. */
  components: string[];
}

/**
 * The Debian archives (`o=Debian`) for `suite` and its `suite-*` companions (updates, security)
 * among the package indexes in `apt-cache policy` output, i.e. the mirror this host's apt is
 * configured with; third-party repositories and other releases are left out.
 */
export function debianSourcesFromPolicy(policy: string, suite: string): AptSource[] {
  const sources: AptSource[] = [];
  const lines = policy.split('\n');
  for (const [i, line] of lines.entries()) {
    const index = /^\s*-?\d+\s+(\S+)\s+([^/\s]+)\/(\S+)\s+\S+\s+Packages$/.exec(line);
    if (!index) continue;
    const [, uri = '', dist = '', component = ''] = index;
    const release = /^\s+release\s+(.*)$/.exec(lines[i + 1] ?? '')?.[1] ?? '';
    const fields = new Map(
      release.split(',').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    const codename = fields.get('n') ?? dist;
    if (fields.get('o') !== 'Debian') continue;
    if (codename !== suite && !codename.startsWith(`${suite}-`)) continue;
    const known = sources.find((s) => s.uri === uri && s.suite === dist);
    if (known) {
      if (!known.components.includes(component)) known.components.push(component);
    } else {
      sources.push({ uri, suite: dist, components: [component] });
    }
  }
  return sources;
}

/** `sources` as one-line `deb uri suite components` lines. */
export function formatSourcesList(sources: readonly AptSource[]): string {
  return sources.map((s) => `deb ${s.uri} ${s.suite} ${s.components.join(' ')}\n`).join('');
}

/** apt options of the host that a bootstrap must share to reach the same mirror. */
const FORWARDED_APT_OPTIONS =
  /^(Acquire::(Check-Valid-Until|Check-Date|Retries|https?::Proxy|https?::Proxy::[^ ]+|ftp::Proxy)) "(.*)";$/;

/**
 * The host's apt options that decide whether its mirror is reachable and accepted (proxies,
 * `Check-Valid-Until` for snapshot mirrors), from `apt-config dump` output, as `Name "value"`.
 */
export function forwardedAptOptions(aptConfigDump: string): string[] {
  const options: string[] = [];
  for (const line of aptConfigDump.split('\n')) {
    const match = FORWARDED_APT_OPTIONS.exec(line.trim());
    if (match) options.push(`${match[1]} "${match[3]}"`);
  }
  return options;
}
