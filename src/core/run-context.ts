import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

/** The process that owns a run's resources: a pid alone is reused, pid + start time is not. */
export interface RunOwner {
  /** Process id. */
  pid: number;
  /** Process start time in clock ticks since boot (from /proc), or 0 where unknown. */
  startTime: number;
  /**
   * Where `pid` and `startTime` mean something (`currentHost()` of the stamping process); absent
   * in stamps written before hosts were recorded, which are taken to be this host's.
   */
  host?: string | undefined;
}

/** Identity of one test run; stamped on every resource testbed creates. */
export interface RunContext {
  /** Short unique id, `[a-z0-9]{8}`. */
  runId: string;
  /** The owning process. */
  owner: RunOwner;
}

/** Start time of a process in clock ticks since boot, or 0 where /proc is not there. */
export function processStartTime(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses; fields after the last ')' are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19] ?? 0);
  } catch {
    return 0;
  }
}

let cachedHost: string | undefined;

const attempt = (read: () => string): string | undefined => {
  try {
    return read().trim() || undefined;
  } catch {
    return undefined;
  }
};

/** This boot of this machine in this pid namespace: the only place a stamp's pid can be probed. */
export function currentHost(): string {
  // A reboot changes the boot id (no process of the old boot is alive), and containers sharing a
  // kernel share it too, so the pid namespace tells their pids apart.
  if (cachedHost === undefined) {
    const bootId = attempt(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8'));
    const pidNamespace = attempt(() => readlinkSync('/proc/self/ns/pid'));
    cachedHost = bootId ? [bootId, pidNamespace].filter(Boolean).join('/') : hostname();
  }
  return cachedHost;
}

/**
 * True unless the run's owner is known to be dead: on this host, while a process with the same
 * pid and start time runs; an owner stamped on another host (or boot) cannot be probed from here,
 * so it counts as alive. A stamp without a host is probed here.
 */
export function isOwnerAlive(owner: RunOwner): boolean {
  if (owner.host !== undefined && owner.host !== currentHost()) return true;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return owner.startTime === 0 || processStartTime(owner.pid) === owner.startTime;
}

/** A new short id of lowercase letters and digits. */
export function shortId(length = 8): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(randomBytes(length), (byte) => alphabet[byte % alphabet.length]).join('');
}

/** Creates the context of a new run owned by `pid` (default: this process). */
export function createRunContext(pid: number = process.pid): RunContext {
  return {
    runId: shortId(8),
    owner: { pid, startTime: processStartTime(pid), host: currentHost() },
  };
}
