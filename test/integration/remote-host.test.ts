import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canStartRemoteHost, type RemoteHost, startRemoteHost } from './support/remote-host.js';

const RUNNER = 'qemu:///system';

/** The runner's own libvirtd, from its pid file (pgrep would also find the namespaced one). */
const runnerLibvirtd = () => Number.parseInt(readFileSync('/run/libvirtd.pid', 'utf8'), 10);

/** A zombie counts as dead: this container's init reaps orphans lazily. */
const alive = (pid: number) => {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
};

const mntOf = (pid: string | number) => {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return undefined;
  }
};

/** libvirt's cgroup directories for `domain`, under cgroup v1 controllers or v2. */
const domainCgroups = (domain: string) =>
  ['', ...readdirSync('/sys/fs/cgroup')]
    .map((controller) => join('/sys/fs/cgroup', controller, 'machine'))
    .filter((dir) => existsSync(dir))
    .flatMap((dir) =>
      readdirSync(dir).filter((entry) => entry.includes(`-${domain}.libvirt-qemu`)),
    );

/** Pids whose mount namespace is `mnt`. */
const pidsInMnt = (mnt: string) =>
  readdirSync('/proc').filter((entry) => /^\d+$/.test(entry) && mntOf(entry) === mnt);

const virsh = (uri: string, args: string[]) =>
  execa('virsh', ['-q', '-c', uri, ...args], { reject: false, stdin: 'ignore', timeout: 20_000 });

describe('remote host: a second libvirtd behind SSH in its own namespaces', () => {
  let host: RemoteHost | undefined;
  let runnerPid: number;
  let qemu: number[] = [];
  const tag = randomBytes(3).toString('hex');

  beforeAll(async () => {
    // No silent skip: CI runs this as root, so a missing piece is a failure.
    if (!canStartRemoteHost())
      throw new Error(
        'cannot start a remote host: needs root, unshare, nsenter, dropbear, libvirtd',
      );
    runnerPid = runnerLibvirtd();
    host = await startRemoteHost({ name: 'host2' });
  });

  afterAll(async () => {
    await host?.stop();
  });

  it('is reachable from the runner over qemu+ssh, without writing ~/.ssh', async () => {
    const h = host as RemoteHost;
    expect(h.address).toMatch(/^10\.253\.\d{1,3}\.2$/);
    expect(h.libvirtUri).toContain(`qemu+ssh://root@${h.address}/system?`);
    expect(readFileSync(h.knownHosts, 'utf8')).toMatch(new RegExp(`^${h.address} ssh-ed25519 `));
    const listed = await virsh(h.libvirtUri, ['list', '--all', '--name']);
    expect(listed.exitCode, listed.stderr).toBe(0);
    expect(listed.stdout.trim()).toBe('');
    const known = '/root/.ssh/known_hosts';
    expect(existsSync(known) ? readFileSync(known, 'utf8') : '').not.toContain(h.address);
  });

  it('has its own files', async () => {
    const h = host as RemoteHost;
    const marker = `remote-host-marker-${tag}`;
    await h.exec(['sh', '-c', `echo here > /var/cache/testbed/${marker}`]);
    expect((await h.exec(['cat', `/var/cache/testbed/${marker}`])).stdout).toBe('here');
    expect(existsSync(`/var/cache/testbed/${marker}`)).toBe(false);
    const cache = (await h.exec(['ls', '-A', '/var/cache/testbed'])).stdout.split('\n');
    expect(cache).not.toContain('images');
    expect(cache).toContain(marker);
    // /etc/libvirt is a copy, /root holds only the client's key.
    expect(
      (await h.exec(['test', '-f', '/etc/libvirt/libvirtd.conf'], { reject: false })).exitCode,
    ).toBe(0);
    expect((await h.exec(['cat', '/root/.ssh/authorized_keys'])).stdout).toBe(
      readFileSync(`${h.keyFile}.pub`, 'utf8').trim(),
    );
    expect((await h.exec(['ls', '-A', '/var/lib/libvirt'])).stdout).not.toContain('images');
  });

  it('runs a libvirtd that is not the runner’s', async () => {
    const h = host as RemoteHost;
    const network = `tbrh-${tag}`;
    const xml = join(h.dir, 'probe-net.xml');
    writeFileSync(xml, `<network><name>${network}</name><bridge name='tbrh${tag}'/></network>`);
    await h.virsh(['net-create', xml]);
    expect((await h.virsh(['net-list', '--name'])).split('\n')).toContain(network);
    // The runner sees it over SSH, but not on its own daemon.
    const remote = await virsh(h.libvirtUri, ['net-list', '--all', '--name']);
    expect(remote.stdout.split('\n')).toContain(network);
    const local = await virsh(RUNNER, ['net-list', '--all', '--name']);
    expect(local.exitCode, local.stderr).toBe(0);
    expect(local.stdout.split('\n')).not.toContain(network);
    // The bridge lives in the namespace, not on the runner.
    expect(
      (await execa('ip', ['link', 'show', `tbrh${tag}`], { reject: false })).exitCode,
    ).not.toBe(0);
    expect(await h.qemuPids()).toEqual([]);
  });

  it('can lose its libvirtd without touching the runner’s', async () => {
    const h = host as RemoteHost;
    // A diskless QEMU that idles in firmware: enough to leave an orphan behind.
    const domain = `tbrh-${tag}`;
    const xml = join(h.dir, 'probe-domain.xml');
    writeFileSync(
      xml,
      `<domain type='qemu'><name>${domain}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>` +
        `<os><type arch='x86_64'>hvm</type></os><devices/></domain>`,
    );
    await h.virsh(['create', xml]);
    qemu = await h.qemuPids();
    expect(qemu).toHaveLength(1);
    expect((await virsh(RUNNER, ['list', '--all', '--name'])).stdout.split('\n')).not.toContain(
      domain,
    );
    await h.killLibvirtd();
    expect(await h.qemuPids()).toEqual(qemu); // orphaned, for stop() to find
    expect((await virsh(h.libvirtUri, ['version'])).exitCode).not.toBe(0);
    expect(runnerLibvirtd()).toBe(runnerPid);
    expect(alive(runnerPid)).toBe(true);
  });

  it('stops without leaving anything behind', async () => {
    const h = host as RemoteHost;
    const mnt = mntOf(h.holderPid) as string;
    expect(mnt).toMatch(/^mnt:/);
    expect(pidsInMnt(mnt).length).toBeGreaterThan(1); // holder, virtlogd, dropbear at least
    await h.stop();
    await h.stop(); // idempotent
    expect((await execa('ip', ['link', 'show', h.link], { reject: false })).exitCode).not.toBe(0);
    expect((await execa('ip', ['-4', '-o', 'addr'])).stdout).not.toContain(h.address.slice(0, -1));
    expect(existsSync(h.dir)).toBe(false);
    expect(alive(h.holderPid)).toBe(false);
    expect(pidsInMnt(mnt)).toEqual([]);
    expect(qemu.filter(alive)).toEqual([]);
    expect(domainCgroups(`tbrh-${tag}`)).toEqual([]);
    expect(readFileSync('/proc/mounts', 'utf8')).not.toContain(h.dir);
    expect(runnerLibvirtd()).toBe(runnerPid);
    expect(alive(runnerPid)).toBe(true);
    const version = await virsh(RUNNER, ['version']);
    expect(version.exitCode, version.stderr).toBe(0);
  });
});
