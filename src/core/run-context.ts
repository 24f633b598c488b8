import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** The process that owns a run's resources: a pid alone is reused, pid + start time is not. */
export interface RunOwner {
  /** Process id. */
  pid: number;
  /** Process start time in clock ticks since boot (from /proc), or 0 where unknown. */
  startTime: number;
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

/** True while the process that owns a run is alive (same pid and same start time). */
export function isOwnerAlive(owner: RunOwner): boolean {
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
  return { runId: shortId(8), owner: { pid, startTime: processStartTime(pid) } };
}
