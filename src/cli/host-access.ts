import { accessSync, constants, existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { loadConfig } from '../core/config.js';
import { hostLibvirtAccess, type LibvirtAccess } from '../core/default-libvirt-uri.js';
import { findDockerEndpoint, socketUsable } from '../providers/docker/docker-socket.js';
import { checkQemuCanReach, type HostFiles, hostFiles } from '../providers/libvirt/qemu-reach.js';

/** One thing this user needs for a backend, as `testbed doctor` reports it. */
export interface AccessCheck {
  /** What it is about. */
  backend: 'docker' | 'libvirt' | 'kvm';
  /** True when nothing needs doing. */
  ok: boolean;
  /** What was found, in a sentence. */
  found: string;
  /** The command (or step) that fixes it; only when not ok. */
  fix?: string | undefined;
}

/** Everything `assessHostAccess` judges, read from the host by `gatherHostFacts`. */
export interface HostFacts {
  user: string;
  uid: number;
  /** This process's groups, by name. */
  groups: readonly string[];
  /** The Docker endpoint found (or why none), and whether this user may open its socket. */
  docker: { found: boolean; endpoint?: string | undefined; reason?: string | undefined };
  libvirt: {
    /** The URI testbed uses. */
    uri: string;
    /** True when set by TESTBED_LIBVIRT_URI (or an alias / LIBVIRT_DEFAULT_URI), not chosen. */
    configured: boolean;
    systemSocket: LibvirtAccess['systemSocket'];
    /** A per-user daemon virsh can start for qemu:///session is installed. */
    sessionDaemon: boolean;
    /** Why libvirt's QEMU user cannot reach testbed's directories (qemu:///system), if it cannot. */
    qemuReach?: string | undefined;
  };
  kvm: {
    /** Mode and group name of /dev/kvm, undefined when it does not exist. */
    device?: { mode: number; group: string } | undefined;
    /** This user may open /dev/kvm. */
    accessible: boolean;
  };
}

const SETUP = 'sudo npx testbed setup-host';

function dockerCheck(facts: HostFacts): AccessCheck {
  const { docker, user } = facts;
  if (docker.found) return { backend: 'docker', ok: true, found: `engine at ${docker.endpoint}` };
  if (docker.endpoint && docker.reason?.includes('usermod')) {
    return {
      backend: 'docker',
      ok: false,
      found: `${docker.endpoint} is not accessible to ${user} (not in group docker)`,
      fix: `sudo usermod -aG docker ${user}   # then log out and in again`,
    };
  }
  return {
    backend: 'docker',
    ok: false,
    found: docker.reason ?? 'no Docker engine found',
    fix: `${SETUP}   # or: sudo systemctl start docker`,
  };
}

function libvirtChecks(facts: HostFacts): AccessCheck[] {
  const { libvirt, user, uid } = facts;
  const checks: AccessCheck[] = [];
  const session = /^qemu:\/\/\/session/.test(libvirt.uri);
  const inGroup = facts.groups.includes('libvirt');
  if (uid === 0 || !/^qemu:\/\/\/(system|session)/.test(libvirt.uri)) {
    checks.push({ backend: 'libvirt', ok: true, found: `uses ${libvirt.uri}` });
  } else if (!session) {
    if (libvirt.systemSocket === 'missing') {
      checks.push({
        backend: 'libvirt',
        ok: false,
        found: `libvirtd is not running for ${libvirt.uri}`,
        fix: `${SETUP}   # or: sudo systemctl start libvirtd`,
      });
    } else if (libvirt.systemSocket === 'denied' || (!inGroup && !libvirt.configured)) {
      checks.push({
        backend: 'libvirt',
        ok: false,
        found: `${libvirt.uri} refuses ${user} (not in group libvirt)`,
        fix: `sudo usermod -aG libvirt ${user}   # then log out and in again; or TESTBED_LIBVIRT_URI=qemu:///session`,
      });
    } else {
      checks.push({
        backend: 'libvirt',
        ok: true,
        found: `uses ${libvirt.uri}${inGroup ? ` (${user} is in group libvirt)` : ''}`,
      });
    }
  } else if (libvirt.sessionDaemon) {
    const why = libvirt.configured
      ? 'as configured'
      : `${user} is not in group libvirt, so not qemu:///system`;
    checks.push({
      backend: 'libvirt',
      ok: true,
      found: `uses ${libvirt.uri} (${why}): libvirt's per-user daemon, QEMU runs as ${user}; for qemu:///system: sudo usermod -aG libvirt ${user}`,
    });
  } else {
    checks.push({
      backend: 'libvirt',
      ok: false,
      found: `${user} is not in group libvirt, and no per-user libvirt daemon is installed for qemu:///session`,
      fix: `sudo usermod -aG libvirt ${user}   # or: sudo apt-get install libvirt-daemon for qemu:///session`,
    });
  }
  if (libvirt.qemuReach) {
    const directory = /cannot enter (\S+)/.exec(libvirt.qemuReach)?.[1] ?? '';
    checks.push({
      backend: 'libvirt',
      ok: false,
      found: libvirt.qemuReach.split(' Fix:')[0] ?? libvirt.qemuReach,
      fix: `chmod o+x ${directory}   # or TESTBED_LIBVIRT_URI=qemu:///session`,
    });
  }
  return checks;
}

function kvmCheck(facts: HostFacts): AccessCheck {
  const { kvm, user } = facts;
  if (!kvm.device) {
    return {
      backend: 'kvm',
      ok: false,
      found: 'no /dev/kvm: guests run under TCG (emulation: slower, still correct)',
      fix: 'enable virtualization (VT-x/AMD-V, or nested virtualization for a VM) and load kvm_intel or kvm_amd',
    };
  }
  const mode = (kvm.device.mode & 0o777).toString(8);
  // Under the session daemon QEMU is this user; under the system daemon it is libvirt's QEMU user.
  if (/^qemu:\/\/\/session/.test(facts.libvirt.uri)) {
    if (kvm.accessible)
      return { backend: 'kvm', ok: true, found: `/dev/kvm accessible to ${user}` };
    const group = kvm.device.group === 'root' ? 'kvm' : kvm.device.group;
    return {
      backend: 'kvm',
      ok: false,
      found: `/dev/kvm (mode ${mode}, group ${kvm.device.group}) is not accessible to ${user}, and qemu:///session runs QEMU as ${user}: guests run under TCG`,
      fix: `sudo usermod -aG ${group} ${user}   # then log out and in again`,
    };
  }
  if ((kvm.device.mode & 0o006) !== 0o006 && (kvm.device.mode & 0o060) !== 0o060) {
    return {
      backend: 'kvm',
      ok: false,
      found: `/dev/kvm (mode ${mode}) is not accessible to libvirt's QEMU user: guests run under TCG`,
      fix: `${SETUP}   # group kvm, mode 0660, QEMU's user in group kvm`,
    };
  }
  return { backend: 'kvm', ok: true, found: `/dev/kvm (mode ${mode}, group ${kvm.device.group})` };
}

/** What this user lacks for each backend, with the command that fixes it (pure). */
export function assessHostAccess(facts: HostFacts): AccessCheck[] {
  return [dockerCheck(facts), ...libvirtChecks(facts), kvmCheck(facts)];
}

/** What `gatherHostFacts` reads; every part defaults to the real host. */
export interface GatherOptions {
  env?: NodeJS.ProcessEnv;
  uid?: number;
  user?: string;
  libvirtAccess?: () => LibvirtAccess;
  exists?: (path: string) => boolean;
  /** Whether this process may open a path for reading and writing. */
  usable?: (path: string) => boolean;
  files?: HostFiles;
}

const readWritable = (path: string) => {
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
};

function groupName(gid: number, files: HostFiles): string {
  const line = (files.readText('/etc/group') ?? '')
    .split('\n')
    .find((l) => Number(l.split(':')[2]) === gid && l.includes(':'));
  return line?.split(':')[0] ?? String(gid);
}

/** Reads the facts `assessHostAccess` judges, without connecting to any daemon. */
export function gatherHostFacts(options: GatherOptions = {}): HostFacts {
  const env = options.env ?? process.env;
  const uid = options.uid ?? process.getuid?.() ?? 0;
  const files = options.files ?? hostFiles;
  const exists = options.exists ?? existsSync;
  const access = (options.libvirtAccess ?? hostLibvirtAccess)();
  const config = loadConfig(env, uid, () => access);
  let qemuReach: string | undefined;
  if (/^qemu:\/\/\/system/.test(config.libvirtUri)) {
    try {
      checkQemuCanReach(
        [
          {
            path: config.stateDir,
            what: "testbed's state directory",
            variable: 'TESTBED_STATE_DIR',
          },
          {
            path: config.baseImagePath,
            what: 'the image cache',
            variable: 'TESTBED_BASE_IMAGE_PATH',
          },
        ],
        files,
      );
    } catch (error) {
      qemuReach = (error as Error).message.replace('\n  Fix:', ' Fix:');
    }
  }
  const kvm = files.stat('/dev/kvm');
  return {
    user: options.user ?? (env.USER || userInfo().username),
    uid,
    groups: access.groups,
    docker: findDockerEndpoint(env, exists, options.usable ?? socketUsable),
    libvirt: {
      uri: config.libvirtUri,
      configured: Boolean(
        env.TESTBED_LIBVIRT_URI || env.BENCHSCALE_LIBVIRT_URI || env.LIBVIRT_DEFAULT_URI,
      ),
      systemSocket: access.systemSocket,
      sessionDaemon: ['/usr/sbin/libvirtd', '/usr/sbin/virtqemud'].some(exists),
      qemuReach,
    },
    kvm: {
      device: kvm ? { mode: kvm.mode, group: groupName(kvm.gid, files) } : undefined,
      accessible: kvm ? (options.usable ?? readWritable)('/dev/kvm') : false,
    },
  };
}
