import { readFileSync } from 'node:fs';
import { currentHost, isOwnerAlive, type RunOwner } from '../core/run-context.js';

/**
 * Whether a run's owning process still runs; `unknown` when the stamp names no valid process or
 * one on another host.
 */
export type OwnerState = 'alive' | 'dead' | 'unknown';

/** Reads `/proc/<pid>/stat`; undefined where there is no procfs or no such process. */
export type ReadProcStat = (pid: number) => string | undefined;

const readProcStat: ReadProcStat = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
};

/**
 * The state of a run's owner. Stricter than `isOwnerAlive`: a zombie (killed, not yet reaped by
 * its parent) counts as dead, and a pid that is not a positive integer is `unknown`, never
 * probed (`kill(0)` would address a whole process group). An owner stamped on another host
 * (another machine sharing the Docker or libvirt daemon, or an earlier boot) is `unknown`: its
 * pid means nothing here. A stamp without a host predates hosts and is probed here.
 */
export function ownerState(owner: RunOwner, readStat: ReadProcStat = readProcStat): OwnerState {
  if (!Number.isInteger(owner.pid) || owner.pid <= 0) return 'unknown';
  if (owner.host !== undefined && owner.host !== currentHost()) return 'unknown';
  const stat = readStat(owner.pid);
  if (stat === undefined) return isOwnerAlive(owner) ? 'alive' : 'dead';
  // Fields after the command name's last ')' are fixed: state first, start time 20th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return 'dead';
  if (owner.startTime !== 0 && Number(fields[19]) !== owner.startTime) return 'dead';
  return 'alive';
}
