import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  canStartRemoteHost,
  type RemoteDockerHost,
  type RemoteHost,
  startRemoteHost,
} from './support/remote-host.js';

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

/** Every cgroup directory of `parent` (an absolute cgroup path), under v1 controllers and v2. */
const cgroupDirs = (parent: string) =>
  ['', ...readdirSync('/sys/fs/cgroup')]
    .map((controller) => join('/sys/fs/cgroup', controller, parent))
    .filter((dir) => existsSync(dir));

describe('remote host: its own Docker engine behind SSH', () => {
  let host: RemoteDockerHost | undefined;
  let runnerEngine: string;
  let context: string;
  const tag = randomBytes(3).toString('hex');
  const built = `testbed-rhost-built:${tag}`;
  const loaded = `testbed-rhost-loaded:${tag}`;
  const token = `remote-engine-${tag}`;
  let container = '';
  let containerPid = 0;
  let port = '';

  /** The runner's docker CLI against the host's engine, over ssh://. */
  const remote = (args: string[]) =>
    execa('docker', args, {
      env: (host as RemoteDockerHost).dockerEnv,
      reject: false,
      stdin: 'ignore',
      timeout: 60_000,
    });
  /** The runner's docker CLI against the runner's own engine (this process's environment). */
  const local = (args: string[]) =>
    execa('docker', args, {
      reject: false,
      stdin: 'ignore',
      timeout: 60_000,
    });

  beforeAll(async () => {
    if (!canStartRemoteHost({ docker: true }))
      throw new Error('cannot start a remote host with Docker: needs dockerd, containerd, runc');
    const info = await local(['info', '--format', '{{.ID}}']);
    if (info.exitCode !== 0) throw new Error(`the runner's Docker engine is down: ${info.stderr}`);
    runnerEngine = info.stdout.trim();
    host = await startRemoteHost({ name: 'host3', docker: true });
    // The project's images are FROM scratch; so is this one: static busybox, nothing to pull.
    context = join(host.dir, 'context');
    mkdirSync(context);
    copyFileSync('/bin/busybox', join(context, 'busybox'));
    writeFileSync(
      join(context, 'Dockerfile'),
      'FROM scratch\nCOPY busybox /bin/busybox\nENTRYPOINT ["/bin/busybox"]\n',
    );
  });

  afterAll(async () => {
    await local(['image', 'rm', '-f', loaded]);
    await host?.stop();
  });

  it('answers the runner’s docker CLI over ssh://, without writing ~/.ssh', async () => {
    const h = host as RemoteDockerHost;
    expect(h.dockerUri).toBe(`ssh://root@${h.address}`);
    expect(h.dockerEndpoint).toContain(`${h.dockerUri}?keyfile=${h.keyFile}&known_hosts=`);
    expect(h.dockerSocket).toBe('/var/run/docker.sock');
    const info = await remote(['info', '--format', '{{.ID}} {{.DockerRootDir}} {{.Containers}}']);
    expect(info.exitCode, info.stderr).toBe(0);
    const [id, root, containers] = info.stdout.trim().split(' ');
    expect(id).not.toBe(runnerEngine);
    expect(root).toBe('/var/lib/docker'); // bound to the host's own directory
    expect(containers).toBe('0');
    expect((await h.docker(['info', '--format', '{{.ID}}'])).stdout).toBe(id);
    expect((await h.exec(['test', '-S', h.dockerSocket], { reject: false })).exitCode).toBe(0);
    expect(existsSync(join(h.dir, 'docker'))).toBe(true);
    const known = '/root/.ssh/known_hosts';
    expect(existsSync(known) ? readFileSync(known, 'utf8') : '').not.toContain(h.address);
  });

  it('builds from a context sent over SSH, and loads an image saved from the runner’s engine', async () => {
    const h = host as RemoteDockerHost;
    const build = await remote(['build', '-q', '-t', built, context]);
    expect(build.exitCode, build.stderr).toBe(0);
    expect((await h.docker(['image', 'inspect', built], { reject: false })).exitCode).toBe(0);
    expect((await local(['image', 'inspect', built])).exitCode).not.toBe(0);
    // No registry: an image built here goes over as `docker save | docker load`.
    const localBuild = await local(['build', '-q', '-t', loaded, context]);
    expect(localBuild.exitCode, localBuild.stderr).toBe(0);
    const load = await execa('docker', ['save', loaded], { stdin: 'ignore' }).pipe(
      'docker',
      ['load'],
      { env: h.dockerEnv },
    );
    expect(load.stdout).toContain(`Loaded image: ${loaded}`);
    const ran = await h.docker(['run', '--rm', loaded, 'echo', 'loaded here']);
    expect(ran.stdout).toBe('loaded here');
  });

  it('runs a container the runner’s engine does not see, its port on the host’s loopback only', async () => {
    const h = host as RemoteDockerHost;
    const run = await remote([
      'run',
      '-d',
      '-p',
      '127.0.0.1::80',
      built,
      'sh',
      '-c',
      `/bin/busybox mkdir /www && echo ${token} > /www/index.html && exec /bin/busybox httpd -f -p 80 -h /www`,
    ]);
    expect(run.exitCode, run.stderr).toBe(0);
    container = run.stdout.trim();
    expect((await remote(['ps', '-q', '--no-trunc'])).stdout.split('\n')).toContain(container);
    expect((await h.docker(['ps', '-q', '--no-trunc'])).stdout.split('\n')).toContain(container);
    expect((await local(['ps', '-aq', '--no-trunc'])).stdout.split('\n')).not.toContain(container);
    containerPid = Number((await h.docker(['inspect', '-f', '{{.State.Pid}}', container])).stdout);
    expect(alive(containerPid)).toBe(true);
    // In the engine's own cgroup parent, under every hierarchy.
    expect(readFileSync(`/proc/${containerPid}/cgroup`, 'utf8')).toContain(
      `${h.dockerCgroupParent}/${container}`,
    );
    // The bridge is the host's: the runner's docker0 (if any) is another one.
    expect((await h.exec(['ip', '-o', '-4', 'addr', 'show', 'docker0'])).stdout).toContain(
      'docker0',
    );
    port = (await remote(['port', container, '80'])).stdout.trim().replace(/^127\.0\.0\.1:/, '');
    expect(port).toMatch(/^\d+$/);
    await untilServed(h, port, token);
    // The same port on the runner's loopback is not this container (refused, or someone else's).
    const there = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(3_000) })
      .then((response) => response.text())
      .catch(() => '');
    expect(there).not.toContain(token);
  });

  it('stops without leaving anything behind, even with its dockerd killed first', async () => {
    const h = host as RemoteDockerHost;
    const mnt = mntOf(h.holderPid) as string;
    const containerMnt = mntOf(containerPid) as string;
    expect(containerMnt).toMatch(/^mnt:/);
    expect(containerMnt).not.toBe(mnt); // a container's own namespace: no pid sweep of the host's finds it
    expect(cgroupDirs(h.dockerCgroupParent).length).toBeGreaterThan(0);
    await h.killDockerd();
    expect(alive(containerPid)).toBe(true); // orphaned, for stop() to find by its cgroup
    await h.stop();
    await h.stop(); // idempotent
    expect(alive(containerPid)).toBe(false);
    expect(pidsInMnt(mnt)).toEqual([]);
    expect(pidsInMnt(containerMnt)).toEqual([]);
    expect(cgroupDirs(h.dockerCgroupParent)).toEqual([]);
    const mounts = readFileSync('/proc/mounts', 'utf8');
    expect(mounts).not.toContain(h.dir);
    expect(mounts).not.toContain(container);
    expect((await execa('ip', ['link', 'show', h.link], { reject: false })).exitCode).not.toBe(0);
    expect(existsSync(h.dir)).toBe(false);
    // The runner's engine is untouched.
    const info = await local(['info', '--format', '{{.ID}}']);
    expect(info.exitCode, info.stderr).toBe(0);
    expect(info.stdout.trim()).toBe(runnerEngine);
  });
});

/** Waits until busybox wget inside the host fetches `token` from its 127.0.0.1:`port`. */
async function untilServed(host: RemoteDockerHost, port: string, token: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const got = await host.exec(['busybox', 'wget', '-q', '-O', '-', `http://127.0.0.1:${port}/`], {
      reject: false,
    });
    if (got.stdout.trim() === token) return;
    if (Date.now() > deadline)
      throw new Error(`nothing served on the host's port ${port}: ${got.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
