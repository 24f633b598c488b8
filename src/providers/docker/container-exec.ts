import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import type Dockerode from 'dockerode';
import { killTree } from '../../core/process-table.js';
import type { ExecResult } from '../../core/provider.js';

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
 */
async function killExec(exec: Dockerode.Exec, containerId: string): Promise<void> {
  const { Pid, Running } = await exec.inspect();
  if (Running && Pid > 0 && inContainer(Pid, containerId)) killTree(Pid);
}

/**
 * Runs `argv` in a container and collects its output. When `signal` aborts, the command's
 * processes are killed (where the engine runs on this host) before it rejects with the reason.
 */
export async function containerExec(
  docker: Dockerode,
  containerId: string,
  argv: readonly string[],
  options: { env?: Record<string, string> | undefined; signal: AbortSignal },
): Promise<ExecResult> {
  const { signal } = options;
  signal.throwIfAborted();
  const exec = await docker.getContainer(containerId).exec({
    Cmd: [...argv],
    AttachStdout: true,
    AttachStderr: true,
    ...(options.env
      ? { Env: Object.entries(options.env).map(([key, value]) => `${key}=${value}`) }
      : {}),
  });
  const stream = await exec.start({ Detach: false, Tty: false });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  const out = new PassThrough().on('data', (chunk: Buffer) => stdout.push(chunk));
  const err = new PassThrough().on('data', (chunk: Buffer) => stderr.push(chunk));
  docker.modem.demuxStream(stream, out, err);
  let onAbort: (() => void) | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      stream.once('end', resolve);
      stream.once('error', reject);
      onAbort = () => reject(signal.reason);
      if (signal.aborted) onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
    });
  } catch (error) {
    if (signal.aborted) await killExec(exec, containerId).catch(() => undefined);
    throw error;
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
    stream.destroy();
  }
  const { ExitCode } = await exec.inspect();
  return {
    stdout: Buffer.concat(stdout).toString('utf8'),
    stderr: Buffer.concat(stderr).toString('utf8'),
    exitCode: ExitCode ?? -1,
  };
}
