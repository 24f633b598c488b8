import { readFileSync } from 'node:fs';
import type Dockerode from 'dockerode';
import { killTree } from '../../core/process-table.js';

/** True when host process `pid` runs inside container `containerId` (its cgroup path names it). */
function inContainer(pid: number, containerId: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(containerId);
  } catch {
    return false;
  }
}

/**
 * Stops an exec that is given up on. Docker's API cannot kill an exec; on an engine of this host
 * its processes are ours to kill (checked through their cgroup, so a remote engine's pid that
 * happens to exist here is never touched). Elsewhere they run on until the container is removed.
 * True when processes were killed.
 */
export async function killExec(exec: Dockerode.Exec, containerId: string): Promise<boolean> {
  const { Pid, Running } = await exec.inspect();
  if (!Running || Pid <= 0 || !inContainer(Pid, containerId)) return false;
  killTree(Pid);
  return true;
}
