import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  accessSync,
  closeSync,
  constants,
  type Dirent,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  rmSync,
} from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';

/**
 * A second "host" on this machine for multi-host tests: its own network and mount namespaces
 * (the PID namespace is shared), its own libvirtd, virtlogd and dropbear, reached from the runner
 * over a veth pair at `address`.
 */
export interface RemoteHost {
  readonly name: string;
  /** The namespace's end of the veth: 10.253.N.2. */
  readonly address: string;
  /** qemu+ssh URI the runner's libvirt client (and testbed's tunnel) use to reach the namespaced libvirtd. */
  readonly libvirtUri: string;
  readonly keyFile: string;
  readonly knownHosts: string;
  /** Temp directory holding the namespace's libvirt, log, cache and home directories. */
  readonly dir: string;
  /** The runner's end of the veth pair. */
  readonly link: string;
  /** Pid of the process that holds the namespaces open. */
  readonly holderPid: number;
  /** Runs a command inside the host's namespaces (nsenter -t P -m -n). */
  exec(
    args: readonly string[],
    options?: { reject?: boolean },
  ): Promise<{ stdout: string; stderr: string; exitCode: number }>;
  /** virsh against the namespaced daemon, run inside the namespace over its local socket. */
  virsh(args: readonly string[]): Promise<string>;
  /** Kills the namespaced libvirtd (SIGKILL, by pid) — for "host died mid-run" tests. */
  killLibvirtd(): Promise<void>;
  /** Pids of QEMU processes started by the namespaced libvirtd (same mount namespace). */
  qemuPids(): Promise<number[]>;
  /**
   * Tears everything down. Idempotent; never throws for an already-gone part, only when a cgroup
   * of the host's domains or containers is still busy after 10 s (the error names it).
   */
  stop(): Promise<void>;
}

/**
 * A remote host started with `{ docker: true }`: it also runs its own Docker engine (dockerd and
 * the containerd it manages), with its state under `dir`, its socket on the host's /run tmpfs and
 * its bridge and iptables rules in the host's network namespace.
 */
export interface RemoteDockerHost extends RemoteHost {
  /** `ssh://root@10.253.N.2`: the docker CLI's endpoint (it takes no query); use with `dockerEnv`. */
  readonly dockerUri: string;
  /**
   * The same endpoint with `keyfile` and `known_hosts` parameters, the way testbed's own SSH link
   * reads a Docker endpoint (hostAddressOf).
   */
  readonly dockerEndpoint: string;
  /** The engine's socket as seen inside the host: /var/run/docker.sock. */
  readonly dockerSocket: string;
  /**
   * Environment for the runner's docker CLI to reach the engine over SSH: DOCKER_HOST=`dockerUri`
   * and PATH led by a directory whose `ssh` names the host's key and known_hosts file, so the
   * runner's ~/.ssh is neither used nor written.
   */
  readonly dockerEnv: Readonly<Record<string, string>>;
  /** cgroup parent of the engine's containers (`/testbed-rhost-XXXX` under every hierarchy). */
  readonly dockerCgroupParent: string;
  /** Runs the docker CLI inside the host against its engine (nsenter -t P -m -n docker -H ...). */
  docker(
    args: readonly string[],
    options?: { reject?: boolean; input?: string | Buffer },
  ): Promise<{ stdout: string; stderr: string; exitCode: number }>;
  /**
   * Kills the host's dockerd (SIGKILL, by pid), leaving its containerd, shims and containers
   * behind — for "engine died mid-run" tests; stop() still removes all of them.
   */
  killDockerd(): Promise<void>;
}

const TOOLS = [
  'unshare',
  'nsenter',
  'ip',
  'dropbear',
  'dropbearkey',
  'ssh-keygen',
  'libvirtd',
  'virtlogd',
  'virsh',
  'cp',
];
/** What `startRemoteHost({ docker: true })` needs on top. */
const DOCKER_TOOLS = ['dockerd', 'containerd', 'containerd-shim-runc-v2', 'runc', 'docker', 'ssh'];

/** The first executable `tool` on PATH (or in the sbin directories), else undefined. */
const which = (tool: string): string | undefined =>
  (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin')
    .split(delimiter)
    .concat(['/usr/sbin', '/sbin'])
    .map((dir) => join(dir, tool))
    .find((path) => {
      try {
        accessSync(path, constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });

const onPath = (tool: string) => which(tool) !== undefined;

/**
 * True when this machine can run one (root, unshare, dropbear, libvirtd binaries; with `docker`,
 * also dockerd, containerd, runc and the docker and ssh clients).
 */
export function canStartRemoteHost(options: { docker?: boolean } = {}): boolean {
  return (
    process.platform === 'linux' &&
    process.getuid?.() === 0 &&
    TOOLS.every(onPath) &&
    (!options.docker || DOCKER_TOOLS.every(onPath))
  );
}

/** Indexes taken by hosts of this process: `ip -4 route` only sees them once addressed. */
const taken = new Set<number>();

const toInt = (ip: string) => ip.split('.').reduce((sum, part) => sum * 256 + Number(part), 0);

/** Every IPv4 prefix routed or assigned here, so a wider route (10.0.0.0/8) counts too. */
async function usedPrefixes(): Promise<Array<{ base: number; size: number }>> {
  const { stdout: routes } = await execa('ip', ['-4', 'route', 'show', 'table', 'all']);
  const { stdout: addrs } = await execa('ip', ['-4', '-o', 'addr']);
  return [...`${routes}\n${addrs}`.matchAll(/(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?/g)].map((m) => {
    const size = 2 ** (32 - Number(m[2] ?? 32));
    return { base: Math.floor(toInt(m[1] as string) / size) * size, size };
  });
}

async function freeIndex(wanted: number | undefined): Promise<number> {
  const used = (await usedPrefixes()).filter((p) => p.size < 2 ** 32); // a /0 is a default route
  const free = (n: number) => {
    const base = toInt(`10.253.${n}.0`);
    return !taken.has(n) && used.every((p) => p.base + p.size <= base || base + 4 <= p.base);
  };
  if (wanted !== undefined) {
    if (!Number.isInteger(wanted) || wanted < 0 || wanted > 255)
      throw new Error(`remote host index ${wanted} is not in 0..255`);
    if (!free(wanted)) throw new Error(`10.253.${wanted}.0/30 is already in use on this machine`);
    return wanted;
  }
  for (let tries = 0; tries < 64; tries++) {
    const n = randomBytes(1)[0] as number;
    if (free(n)) return n;
  }
  throw new Error('no free 10.253.N.0/30 found for a remote host');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const nsOf = (pid: number, kind: 'mnt' | 'net'): string | undefined => {
  try {
    return readlinkSync(`/proc/${pid}/ns/${kind}`);
  } catch {
    return undefined; // gone, or a zombie
  }
};

/** Pids in both namespaces; both must match so a recycled namespace id cannot pick a stranger. */
function pidsIn(mnt: string, net: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => nsOf(pid, 'mnt') === mnt && nsOf(pid, 'net') === net);
}

/** The `*.libvirt-qemu` cgroup directories `pid` sits in (libvirt makes one per domain). */
function domainCgroups(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cgroup`, 'utf8')
      .split('\n')
      .flatMap((line) => {
        const [, controllers, path] = line.match(/^\d+:([^:]*):(.*)$/) ?? [];
        const dir = path?.match(/^(.*\/[^/]+\.libvirt-qemu)(\/|$)/)?.[1];
        if (dir === undefined) return [];
        const mounts = controllers ? [controllers.replace(/^name=/, '')] : ['unified', ''];
        return mounts.map((mount) => join('/sys/fs/cgroup', mount, dir));
      });
  } catch {
    return [];
  }
}

/** `name` (an absolute cgroup path) under every mounted hierarchy: v1 controllers and v2. */
const cgroupEverywhere = (name: string): string[] =>
  readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .filter((fields) => fields[2] === 'cgroup' || fields[2] === 'cgroup2')
    .map((fields) => join(fields[1] as string, name));

/** Removes a cgroup directory tree bottom-up; rmdir refuses any cgroup that still has tasks. */
function removeCgroup(dir: string): void {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return; // gone, or not a cgroup directory
  }
  for (const entry of entries) if (entry.isDirectory()) removeCgroup(join(dir, entry.name));
  try {
    rmdirSync(dir);
  } catch {
    // busy (EBUSY while a task, even a dying thread, is still in it) or already gone
  }
}

/**
 * Task ids (threads too) still in these cgroup trees. A v2 threaded cgroup refuses cgroup.procs,
 * so each directory is read through `tasks` (v1) or `cgroup.threads` (v2).
 */
function tasksIn(dirs: Iterable<string>): number[] {
  const found = new Set<number>();
  const walk = (dir: string) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const file of ['tasks', 'cgroup.threads']) {
      try {
        for (const line of readFileSync(join(dir, file), 'utf8').split('\n'))
          if (/^\d+$/.test(line)) found.add(Number(line));
        break;
      } catch {
        // not this hierarchy's file
      }
    }
    for (const entry of entries) if (entry.isDirectory()) walk(join(dir, entry.name));
  };
  for (const dir of dirs) walk(dir);
  return [...found];
}

/** Removes every tree; true when none is left. */
const removeCgroups = (dirs: Iterable<string>): boolean => {
  let left = false;
  for (const dir of dirs) {
    removeCgroup(dir);
    if (existsSync(dir)) left = true;
  }
  return !left;
};

/** Blocks the thread for `ms` (for the exit handler, where nothing asynchronous runs). */
const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

const killQuietly = (pid: number) => {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
};

async function untilTrue(
  what: string,
  timeoutMs: number,
  probe: () => Promise<boolean> | boolean,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal?.throwIfAborted();
    if (await probe()) return;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

const holderScript = (dir: string, docker: boolean) => `set -e
exec >"${dir}/holder.log" 2>&1
mount -t tmpfs tmpfs /run
mkdir -p /run/libvirt /run/lock
${docker ? `mount --bind "${dir}/docker" /var/lib/docker\nmount --bind "${dir}/etc-docker" /etc/docker\n` : ''}mount --bind "${dir}/lib" /var/lib/libvirt
mount --bind "${dir}/log" /var/log/libvirt
mount --bind "${dir}/etc" /etc/libvirt
mount --bind "${dir}/cache" /var/cache/testbed
mount --bind "${dir}/home" /root
mount --bind "${dir}/libvirt-cache" /var/cache/libvirt
ip link set lo up
virtlogd -d
libvirtd -d
echo ready > "${dir}/ready"
exec sleep infinity
`;

/** Asks an engine's socket for /_ping; false until it answers 200. */
const pings = (socketPath: string) =>
  new Promise<boolean>((resolve) => {
    const req = request({ socketPath, path: '/_ping', timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once('error', () => resolve(false));
    req.once('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });

export interface RemoteHostOptions {
  name?: string;
  /** N of 10.253.N.0/30; default a free one at random. */
  index?: number;
  signal?: AbortSignal;
  /** Also start the host's own Docker engine (adds about a second to the start). Default false. */
  docker?: boolean;
}

/** Starts a remote host; on any failure removes what it created, then rethrows. */
export function startRemoteHost(
  options: RemoteHostOptions & { docker: true },
): Promise<RemoteDockerHost>;
export function startRemoteHost(options?: RemoteHostOptions): Promise<RemoteHost>;
export async function startRemoteHost(
  options: RemoteHostOptions = {},
): Promise<RemoteHost | RemoteDockerHost> {
  const { signal } = options;
  const docker = options.docker === true;
  signal?.throwIfAborted();
  if (!canStartRemoteHost({ docker }))
    throw new Error(
      docker
        ? 'a remote host with Docker needs root, unshare, nsenter, ip, dropbear, libvirtd, dockerd, containerd, runc, docker and ssh'
        : 'a remote host needs root, unshare, nsenter, ip, dropbear and libvirtd',
    );
  const name = options.name ?? 'host2';
  const index = await freeIndex(options.index);
  taken.add(index);
  const tag = randomBytes(2).toString('hex');
  const link = `tbh${tag}a`;
  const peer = `tbh${tag}b`;
  const gateway = `10.253.${index}.1`;
  const address = `10.253.${index}.2`;
  // The engine's containers run in namespaces of their own, where no pid sweep finds them: their
  // own cgroup parent does, even once the engine is gone. Unique per host, so never a stranger's.
  const dockerCgroupParent = `/testbed-rhost-${tag}`;

  let dir: string | undefined;
  let holder: ReturnType<typeof spawn> | undefined;
  let holderExited = false;
  let dockerd: ReturnType<typeof spawn> | undefined;
  let dockerdExited = false;
  let mnt: string | undefined;
  let net: string | undefined;
  let linkAdded = false;
  /** cgroups to remove at teardown: orphaned domains' (noted while their QEMU lives), the engine's. */
  const cgroups = new Set<string>();
  const noteCgroups = () => {
    if (mnt && net)
      for (const cgroup of pidsIn(mnt, net).flatMap(domainCgroups)) cgroups.add(cgroup);
    if (docker) for (const cgroup of cgroupEverywhere(dockerCgroupParent)) cgroups.add(cgroup);
  };

  // Safety net if the test process exits without stop(): killing every process of the namespaces
  // and the engine's containers drops their mounts and the veth with them.
  const onExit = () => {
    noteCgroups();
    const left = () => [...(mnt && net ? pidsIn(mnt, net) : []), ...tasksIn(cgroups)];
    for (const p of left()) killQuietly(p);
    if (holder?.pid !== undefined && !holderExited) killQuietly(holder.pid);
    // A cgroup can be removed only once its dying tasks are gone: a short, blocking wait.
    for (let tries = 0; tries < 30 && !removeCgroups(cgroups); tries++) {
      for (const p of left()) killQuietly(p);
      sleepSync(100);
    }
    try {
      execFileSync('ip', ['link', 'del', link], { stdio: 'ignore' });
    } catch {
      // already gone with its namespace
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  const teardown = async (): Promise<void> => {
    const pid = holder?.pid;
    if (pid !== undefined && !holderExited && !mnt) {
      // Failed before the namespaces were confirmed: take them only once they are not ours.
      const [m, n] = [nsOf(pid, 'mnt'), nsOf(pid, 'net')];
      if (m && n && m !== nsOf(process.pid, 'mnt') && n !== nsOf(process.pid, 'net')) {
        mnt = m;
        net = n;
      }
    }
    let busy: string[] = [];
    if (pid !== undefined && mnt && net) {
      const inside = (args: string[]) =>
        execa(
          'nsenter',
          ['-t', String(pid), '-m', '-n', 'virsh', '-q', '-c', 'qemu:///system', ...args],
          {
            reject: false,
            timeout: 10_000,
            stdin: 'ignore',
          },
        );
      // Graceful first so libvirt's own cleanup (cgroups, tap devices) runs; only if it answers.
      if (!holderExited && (await inside(['version'])).exitCode === 0) {
        const domains = (await inside(['list', '--all', '--name'])).stdout;
        for (const domain of domains.split('\n').filter(Boolean)) await inside(['destroy', domain]);
        const networks = (await inside(['net-list', '--all', '--name'])).stdout;
        for (const network of networks.split('\n').filter(Boolean))
          await inside(['net-destroy', network]);
      }
      // Everything else of the namespace (QEMU, daemons, dropbear, sessions), by pid, never by
      // name, and every task in the cgroups noted: containers, and threads of a QEMU still dying
      // after its leader has left the namespaces (its domain's cgroup is busy until they are gone).
      const others = () => pidsIn(mnt as string, net as string).filter((p) => p !== pid);
      noteCgroups(); // before the kill: an orphaned QEMU's /proc/P/cgroup names its domain's
      const left = () => [...others(), ...tasksIn(cgroups)];
      for (const p of left()) killQuietly(p);
      await untilTrue('remote host processes and cgroups to go', 10_000, () => {
        const tasks = left();
        for (const p of tasks) killQuietly(p);
        return tasks.length === 0 && removeCgroups(cgroups);
      }).catch(() => {
        busy = [...cgroups].filter((cgroup) => existsSync(cgroup));
      });
    }
    if (holder && !holderExited) {
      const exited = new Promise((resolve) => holder?.once('exit', resolve));
      holder.kill('SIGKILL');
      await Promise.race([exited, sleep(5_000)]);
    }
    if (linkAdded || existsSync(`/sys/class/net/${link}`))
      await execa('ip', ['link', 'del', link], { reject: false });
    if (dir) await rm(dir, { recursive: true, force: true });
    taken.delete(index);
    process.off('exit', onExit);
    if (busy.length > 0)
      throw new Error(
        `remote host ${name}: cgroups still busy after 10 s: ${busy.join(', ')} (tasks ${tasksIn(busy).join(' ') || 'none'})`,
      );
  };

  try {
    dir = await mkdtemp('/tmp/tb-rhost-');
    const subs = ['lib', 'log', 'etc', 'cache', 'home/.ssh', 'libvirt-cache'];
    for (const sub of docker ? [...subs, 'docker', 'etc-docker', 'bin'] : subs)
      await mkdir(join(dir, sub), { recursive: true });
    await execa('cp', ['-a', '/etc/libvirt/.', join(dir, 'etc')]);
    // QEMU in the holder's mount namespace (not a private one per domain), so teardown and
    // qemuPids() find it by namespace even after its libvirtd is gone.
    const qemuConf = join(dir, 'etc/qemu.conf');
    const conf = existsSync(qemuConf) ? await readFile(qemuConf, 'utf8') : '';
    const kept = conf.split('\n').filter((line) => !/^\s*namespaces\s*=/.test(line));
    await writeFile(qemuConf, `${kept.join('\n')}\nnamespaces = []\n`, { mode: 0o600 });
    // Its own copy of the QEMU capabilities cache, so the runner's files are never rewritten.
    // Here the copy is often judged stale ("host cpuid changed") and the daemon re-probes (~8 s).
    await mkdir('/var/cache/libvirt', { recursive: true });
    await execa('cp', ['-a', '/var/cache/libvirt/.', join(dir, 'libvirt-cache')]);
    const keyFile = join(dir, 'client_key');
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', keyFile]);
    await copyFile(`${keyFile}.pub`, join(dir, 'home/.ssh/authorized_keys'));
    await chmod(join(dir, 'home'), 0o700);
    await chmod(join(dir, 'home/.ssh'), 0o700);
    await chmod(join(dir, 'home/.ssh/authorized_keys'), 0o600);
    const hostKey = join(dir, 'hostkey');
    await execa('dropbearkey', ['-t', 'ed25519', '-f', hostKey]);
    const { stdout: pub } = await execa('dropbearkey', ['-y', '-f', hostKey]);
    const keyLine = pub.split('\n').find((line) => line.startsWith('ssh-ed25519 '));
    if (!keyLine) throw new Error(`dropbearkey -y printed no ed25519 key:\n${pub}`);
    const knownHosts = join(dir, 'known_hosts');
    const [type, base64] = keyLine.split(' ');
    await writeFile(knownHosts, `${address} ${type} ${base64}\n`);
    // The bind targets must exist on the shared root filesystem; they are the project's cache
    // dir and (with docker) the Docker data root that docker.io creates anyway.
    await mkdir('/var/cache/testbed', { recursive: true });
    if (docker)
      for (const target of ['/var/lib/docker', '/etc/docker'])
        await mkdir(target, { recursive: true });
    const script = join(dir, 'host.sh');
    await writeFile(script, holderScript(dir, docker));

    // unshare execs sh, which execs sleep: the spawned pid is the holder for its whole life.
    holder = spawn('unshare', ['--net', '--mount', '--propagation', 'private', 'sh', script], {
      detached: true,
      stdio: 'ignore',
    });
    holder.once('exit', () => {
      holderExited = true;
    });
    holder.once('error', () => {
      holderExited = true; // spawn failed; the wait below reports it
    });
    holder.unref();
    const pid = holder.pid;
    if (pid === undefined) throw new Error('could not spawn unshare');
    const readLog = (file: string) => {
      try {
        return readFileSync(join(dir as string, file), 'utf8');
      } catch {
        return '';
      }
    };
    const log = () => readLog('holder.log');
    const readyFile = join(dir, 'ready');
    await untilTrue(
      'the remote host namespace',
      15_000,
      () => {
        if (holderExited) throw new Error(`remote host holder exited:\n${log()}`);
        return existsSync(readyFile);
      },
      signal,
    );
    mnt = nsOf(pid, 'mnt');
    net = nsOf(pid, 'net');
    if (!mnt || !net || mnt === nsOf(process.pid, 'mnt') || net === nsOf(process.pid, 'net'))
      throw new Error('remote host holder is not in its own namespaces');

    if (docker) {
      // Started now, to come up while libvirtd does. Its state is the host's: /var/lib/docker and
      // /etc/docker (an empty daemon.json; its own key.json, so its own engine ID) are bound to
      // dir; its exec root, pid file, socket and the containerd it starts (none runs on this
      // /run) are on the host's /run tmpfs.
      await writeFile(join(dir, 'etc-docker/daemon.json'), '{}\n');
      const out = openSync(join(dir, 'dockerd.log'), 'a');
      try {
        dockerd = spawn(
          'nsenter',
          [
            '-t',
            String(pid),
            '-m',
            '-n',
            'dockerd',
            '--cgroup-parent',
            dockerCgroupParent,
            '--pidfile',
            '/run/docker.pid',
            '-H',
            'unix:///run/docker.sock',
          ],
          { detached: true, stdio: ['ignore', out, out] },
        );
      } finally {
        closeSync(out);
      }
      dockerd.once('exit', () => {
        dockerdExited = true;
      });
      dockerd.once('error', () => {
        dockerdExited = true;
      });
      dockerd.unref();
    }

    await execa('ip', ['link', 'add', link, 'type', 'veth', 'peer', 'name', peer]);
    linkAdded = true;
    await execa('ip', ['link', 'set', peer, 'netns', String(pid)]);
    await execa('ip', ['addr', 'add', `${gateway}/30`, 'dev', link]);
    await execa('ip', ['link', 'set', link, 'up']);
    await execa('nsenter', [
      '-t',
      String(pid),
      '-n',
      'ip',
      'addr',
      'add',
      `${address}/30`,
      'dev',
      peer,
    ]);
    await execa('nsenter', ['-t', String(pid), '-n', 'ip', 'link', 'set', peer, 'up']);

    const exec: RemoteHost['exec'] = async (args, execOptions = {}) => {
      const result = await execa('nsenter', ['-t', String(pid), '-m', '-n', ...args], {
        reject: execOptions.reject ?? true,
        stdin: 'ignore',
      });
      return { stdout: result.stdout, stderr: result.stderr, exitCode: result.exitCode ?? -1 };
    };
    const virsh: RemoteHost['virsh'] = async (args) =>
      (await exec(['virsh', '-c', 'qemu:///system', ...args])).stdout;

    // 30 s, not 15: a capabilities re-probe alone takes ~8 s on this 2-core runner.
    const libvirtdUp = untilTrue(
      'libvirtd in the remote host',
      30_000,
      async () => {
        if (holderExited) throw new Error(`remote host holder exited:\n${log()}`);
        return (
          (await exec(['virsh', '-c', 'qemu:///system', 'version'], { reject: false })).exitCode ===
          0
        );
      },
      signal,
    );
    // The runner reaches the socket through the holder's root: no process spawned per probe.
    const dockerdUp = docker
      ? untilTrue(
          'dockerd in the remote host',
          30_000,
          async () => {
            if (dockerdExited)
              throw new Error(`remote host dockerd exited:\n${readLog('dockerd.log')}`);
            return pings(`/proc/${pid}/root/run/docker.sock`);
          },
          signal,
        )
      : undefined;
    // Both settled before any failure is thrown, so teardown never races a probe.
    const [libvirtd, engine] = await Promise.allSettled([libvirtdUp, dockerdUp]);
    if (libvirtd.status === 'rejected') throw libvirtd.reason;
    if (engine.status === 'rejected') throw engine.reason;

    await exec([
      'dropbear',
      '-p',
      `${address}:22`,
      '-r',
      hostKey,
      '-P',
      join(dir, 'dropbear.pid'),
      '-s',
    ]);
    // qemu+ssh runs OpenSSH's client, which has no known_hosts parameter: a wrapper names the
    // file, so the runner's ~/.ssh is never written. (Debian 12's virsh segfaults at exit about
    // one call in three over qemu+libssh.) known_hosts= is testbed's own tunnel's parameter.
    const sshCommand = join(dir, 'ssh');
    await writeFile(
      sshCommand,
      `#!/bin/sh\nexec ssh -o UserKnownHostsFile=${knownHosts} -o StrictHostKeyChecking=yes -o BatchMode=yes "$@"\n`,
      { mode: 0o755 },
    );
    const libvirtUri =
      `qemu+ssh://root@${address}/system?keyfile=${keyFile}` +
      `&known_hosts=${knownHosts}&command=${sshCommand}`;
    let lastError = '';
    await untilTrue(
      'the remote host over SSH',
      15_000,
      async () => {
        const result = await execa('virsh', ['-c', libvirtUri, 'version'], {
          reject: false,
          timeout: 10_000,
          stdin: 'ignore',
        });
        lastError = result.stderr;
        return result.exitCode === 0;
      },
      signal,
    ).catch((error: Error) => {
      throw signal?.aborted ? error : new Error(`${error.message}: ${lastError}`);
    });

    const daemonPid = async (file: string): Promise<number | undefined> => {
      const { stdout, exitCode } = await exec(['cat', file], { reject: false });
      const found = Number.parseInt(stdout.trim(), 10);
      // Only a pid that really is in this host's namespaces: the PID namespace is the runner's.
      return exitCode === 0 && Number.isInteger(found) && nsOf(found, 'mnt') === mnt
        ? found
        : undefined;
    };
    const killDaemon = async (file: string, what: string) => {
      const found = await daemonPid(file);
      if (found === undefined) return;
      killQuietly(found);
      await untilTrue(`the remote ${what} to die`, 5_000, () => nsOf(found, 'mnt') !== mnt);
    };

    let stopping: Promise<void> | undefined;
    const host: RemoteHost = {
      name,
      address,
      libvirtUri,
      keyFile,
      knownHosts,
      dir,
      link,
      holderPid: pid,
      exec,
      virsh,
      async killLibvirtd() {
        noteCgroups(); // its domains' cgroups outlive it: teardown removes them
        await killDaemon('/run/libvirtd.pid', 'libvirtd');
      },
      async qemuPids() {
        return pidsIn(mnt as string, net as string).filter((p) => {
          try {
            return readFileSync(`/proc/${p}/comm`, 'utf8').startsWith('qemu');
          } catch {
            return false;
          }
        });
      },
      stop() {
        stopping ??= teardown();
        return stopping;
      },
    };
    if (!docker) return host;

    // The docker CLI's ssh:// runs `ssh` from PATH (and takes no key or known_hosts of its own):
    // this directory's `ssh` names them, and no config file, so the runner's ~/.ssh is left alone.
    const binDir = join(dir, 'bin');
    await writeFile(
      join(binDir, 'ssh'),
      `#!/bin/sh\nexec ${which('ssh')} -F none -i ${keyFile} -o IdentitiesOnly=yes -o UserKnownHostsFile=${knownHosts} -o StrictHostKeyChecking=yes -o BatchMode=yes "$@"\n`,
      { mode: 0o755 },
    );
    const dockerUri = `ssh://root@${address}`;
    const dockerHost: RemoteDockerHost = {
      ...host,
      dockerUri,
      dockerEndpoint: `${dockerUri}?keyfile=${keyFile}&known_hosts=${knownHosts}`,
      dockerSocket: '/var/run/docker.sock',
      dockerEnv: {
        DOCKER_HOST: dockerUri,
        PATH: [binDir, process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'].join(delimiter),
      },
      dockerCgroupParent,
      async docker(args, runOptions = {}) {
        // -H: never DOCKER_HOST or a context of the runner's environment.
        const result = await execa(
          'nsenter',
          ['-t', String(pid), '-m', '-n', 'docker', '-H', 'unix:///run/docker.sock', ...args],
          {
            reject: runOptions.reject ?? true,
            ...(runOptions.input === undefined ? { stdin: 'ignore' } : { input: runOptions.input }),
          },
        );
        return { stdout: result.stdout, stderr: result.stderr, exitCode: result.exitCode ?? -1 };
      },
      async killDockerd() {
        await killDaemon('/run/docker.pid', 'dockerd');
      },
    };
    return dockerHost;
  } catch (error) {
    // The start's own error is the one worth reading, not a teardown's.
    await teardown().catch(() => undefined);
    throw error;
  }
}
