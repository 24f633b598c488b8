import { describe, expect, it } from 'vitest';
import {
  debianSourcesFromPolicy,
  formatSourcesList,
  forwardedAptOptions,
} from '../../src/images/apt-sources.js';

const POLICY = `Package files:
 100 /var/lib/dpkg/status
     release a=now
 500 https://download.docker.com/linux/debian bookworm/stable amd64 Packages
     release o=Docker,a=bookworm,l=Docker CE,c=stable,b=amd64
     origin download.docker.com
 500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
     release v=12,o=Debian,a=oldstable-security,n=bookworm-security,l=Debian-Security,c=main,b=amd64
     origin deb.debian.org
 500 http://deb.debian.org/debian bookworm-updates/main amd64 Packages
     release v=12-updates,o=Debian,a=oldstable-updates,n=bookworm-updates,l=Debian,c=main,b=amd64
     origin deb.debian.org
 500 http://deb.debian.org/debian bookworm/contrib amd64 Packages
     release v=12.15,o=Debian,a=oldstable,n=bookworm,l=Debian,c=contrib,b=amd64
     origin deb.debian.org
 500 http://deb.debian.org/debian bookworm/main amd64 Packages
     release v=12.15,o=Debian,a=oldstable,n=bookworm,l=Debian,c=main,b=amd64
     origin deb.debian.org
 500 http://deb.debian.org/debian trixie/main amd64 Packages
     release v=13.1,o=Debian,a=stable,n=trixie,l=Debian,c=main,b=amd64
     origin deb.debian.org
Pinned packages:
`;

describe('apt sources', () => {
  it("takes the host's Debian archives for the suite from apt-cache policy, nothing else", () => {
    const sources = debianSourcesFromPolicy(POLICY, 'bookworm');
    expect(formatSourcesList(sources)).toBe(
      [
        'deb http://deb.debian.org/debian-security bookworm-security main',
        'deb http://deb.debian.org/debian bookworm-updates main',
        'deb http://deb.debian.org/debian bookworm contrib main',
        '',
      ].join('\n'),
    );
  });

  it('finds nothing when apt has no lists for the suite', () => {
    expect(debianSourcesFromPolicy(POLICY, 'buster')).toEqual([]);
  });

  it('forwards the apt options that decide whether the mirror is reachable and accepted', () => {
    const dump = [
      'APT "";',
      'Acquire::Check-Valid-Until "false";',
      'Acquire::http::Proxy "http://proxy:3128";',
      'Acquire::https::Proxy::deb.example.org "DIRECT";',
      'Acquire::IndexTargets::deb::DEP-11::DefaultEnabled "false";',
      'Dir::Cache::pkgcache "";',
    ].join('\n');
    expect(forwardedAptOptions(dump)).toEqual([
      'Acquire::Check-Valid-Until "false"',
      'Acquire::http::Proxy "http://proxy:3128"',
      'Acquire::https::Proxy::deb.example.org "DIRECT"',
    ]);
  });
});
