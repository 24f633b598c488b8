import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freshMac, guestNetworkScript } from '../../src/providers/libvirt/guest-network.js';

describe('guestNetworkScript', () => {
  it('finds each NIC by MAC and adds its address only once', () => {
    const script = guestNetworkScript({
      addresses: [{ mac: '52:54:00:aa:bb:cc', address: '10.213.7.11/24' }],
      hosts: {},
    });
    expect(script).toContain('until dev=$(nic 52:54:00:aa:bb:cc)');
    expect(script).toContain(`grep -q ' 10.213.7.11/24 ' || ip addr add 10.213.7.11/24 dev "$dev"`);
    expect(script).not.toContain('/etc/hosts');
  });

  it('rewrites its own /etc/hosts lines and keeps the others (run twice, no duplicates)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tb-hosts-'));
    const hostsFile = join(dir, 'hosts');
    writeFileSync(hostsFile, '127.0.0.1 localhost\n');
    const script = guestNetworkScript({
      addresses: [],
      hosts: { db: '10.213.7.11', app: '10.213.7.12' },
    }).replaceAll('/etc/hosts', hostsFile);
    execFileSync('sh', ['-c', script]);
    execFileSync('sh', ['-c', script]);
    expect(readFileSync(hostsFile, 'utf8')).toBe(
      '127.0.0.1 localhost\n10.213.7.11 db # testbed\n10.213.7.12 app # testbed\n',
    );
  });

  it('makes locally administered MACs in QEMU’s range', () => {
    expect(freshMac()).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
  });
});
