import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type Dockerode from 'dockerode';
import { killTree } from '../../core/process-table.js';

const PID_POLL_MS = 25;
const PID_TRIES = 80;

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
  let { Pid, Running } = await exec.inspect();
  // Docker records an exec's pid a moment after its output starts flowing: wait for it.
  for (let tries = 0; Running && Pid <= 0 && tries < PID_TRIES; tries++) {
    await sleep(PID_POLL_MS);
    ({ Pid, Running } = await exec.inspect());
  }
  if (!Running || Pid <= 0 || !inContainer(Pid, containerId)) return false;
  killTree(Pid);
  return true;
}
