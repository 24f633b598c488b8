import { type Duplex, PassThrough } from 'node:stream';
import { finished } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type Dockerode from 'dockerode';
import type { MachineProcess } from '../../core/provider.js';
import { ExecDemux } from './exec-demux.js';
import { killExec } from './kill-exec.js';
import { OciGate } from './oci-exec-failure.js';

/** Where and as whom the command runs. */
export interface ExecStreamOptions {
  /** Added to the command's environment. */
  env?: Record<string, string> | undefined;
  /** Working directory (Docker's `WorkingDir`). */
  cwd?: string | undefined;
  /** User name or uid[:gid] (Docker's `User`). */
  user?: string | undefined;
  /**
   * The error `exited` rejects with when the engine reports the working directory or user
   * missing; without it, that is exit 126 with the engine's message on stderr.
   */
  missing?: ((missing: 'cwd' | 'user') => Error) | undefined;
}

/** A command running in a container, with its streams as Node streams. */
export interface ExecStream extends MachineProcess {
  readonly stdin: PassThrough;
  readonly stdout: PassThrough;
  readonly stderr: PassThrough;
}

/** Docker reports an exec's exit code a moment after its output ends; this long at most. */
const EXIT_REPORT_MS = 2000;
const EXIT_POLL_MS = 20;
/** After a kill, how long the stream may take to end before the connection is dropped. */
const KILL_GRACE_MS = 5000;

async function exitCodeOf(exec: Dockerode.Exec): Promise<number | undefined> {
  const deadline = Date.now() + EXIT_REPORT_MS;
  for (;;) {
    const { Running, ExitCode } = await exec.inspect();
    if (!Running && typeof ExitCode === 'number') return ExitCode;
    if (Date.now() > deadline) return undefined;
    await sleep(EXIT_POLL_MS);
  }
}

/** Pipes `stdin` in and the output out; resolves when the output has ended, or with what broke the connection. */
function attach(socket: Duplex, stdin: PassThrough, demux: ExecDemux): Promise<Error | undefined> {
  return new Promise((resolve) => {
    let ended = false;
    socket.once('end', () => {
      ended = true;
    });
    // After the output ended, a failed write (stdin the command never read) changes nothing.
    socket.on('error', (error) => {
      if (!ended) resolve(error);
    });
    socket.once('close', () => {
      if (!ended) resolve(new Error('the connection to the Docker engine closed'));
    });
    demux.once('finish', () => resolve(undefined));
    stdin.pipe(socket);
    socket.pipe(demux);
  });
}

/**
 * Starts `argv` in a container through Docker's hijacked exec attach: stdin, stdout and stderr
 * are streamed both ways as they come, binary-safe, of any size. Returns at once; `exited`
 * resolves with the exit code (a command that cannot start gives 126/127 and the runtime's
 * message on stderr) and rejects when the engine connection fails.
 */
export function startExec(
  docker: Dockerode,
  containerId: string,
  argv: readonly string[],
  options: ExecStreamOptions = {},
): ExecStream {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const gate = new OciGate(stdout);
  const state: { exec?: Dockerode.Exec; socket?: Duplex; killed: boolean } = { killed: false };

  const run = async (): Promise<number> => {
    const exec = await docker.getContainer(containerId).exec({
      Cmd: [...argv],
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      ...(options.env
        ? { Env: Object.entries(options.env).map(([key, value]) => `${key}=${value}`) }
        : {}),
      ...(options.cwd ? { WorkingDir: options.cwd } : {}),
      ...(options.user ? { User: options.user } : {}),
    });
    state.exec = exec;
    if (state.killed) throw new Error('the command was killed before it started');
    const socket = (await exec.start({ hijack: true, stdin: true })) as unknown as Duplex;
    state.socket = socket;
    // A kill that came while it was starting found nothing to kill yet.
    if (state.killed) await killExec(exec, containerId).catch(() => false);
    const broken = await attach(socket, stdin, new ExecDemux(gate, stderr));
    gate.end();
    // Everything the gate passed on must reach stdout before stdout ends.
    await finished(gate).catch(() => undefined);
    const code = await exitCodeOf(exec);
    if (code === undefined) {
      socket.destroy();
      throw broken ?? new Error('Docker did not report the exit code of the command');
    }
    const failure = gate.settle(code);
    if (failure?.missing && options.missing) throw options.missing(failure.missing);
    if (failure) stderr.write(failure.message);
    return failure?.exitCode ?? code;
  };

  const exited = run().finally(() => {
    stdin.unpipe();
    stdin.destroy();
    stdout.end();
    stderr.end();
  });
  // Callers that only kill() must not see an unhandled rejection; awaiting `exited` still sees it.
  exited.catch(() => undefined);

  return {
    stdin,
    stdout,
    stderr,
    exited,
    async kill() {
      state.killed = true;
      if (state.exec) await killExec(state.exec, containerId).catch(() => false);
      const settled = exited.then(
        () => true,
        () => true,
      );
      const grace = new AbortController();
      const inTime = await Promise.race([
        settled,
        sleep(KILL_GRACE_MS, false, { signal: grace.signal }).catch(() => false),
      ]);
      grace.abort();
      // Processes on a remote engine cannot be killed from here: at least let go of them.
      if (!inTime) {
        state.socket?.destroy();
        gate.destroy();
      }
      await settled;
    },
  };
}
