import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadConfig } from '../core/config.js';
import { WatchdogError } from '../core/errors.js';
import type { HostEntry } from '../core/hosts.js';
import { processStartTime, type RunContext } from '../core/run-context.js';
import { ownerState } from './owner-state.js';
import type { WatchdogArgs } from './watchdog-args.js';
import { watchdogPaths } from './watchdog-paths.js';

/** Options for `startWatchdog`. */
export interface WatchdogOptions {
  /** Where the watchdog keeps its lock and log. Default: the configured state dir. */
  stateDir?: string | undefined;
  /** Environment of the watchdog (it reads TESTBED_*, DOCKER_HOST from it). Default: this process's. */
  env?: NodeJS.ProcessEnv | undefined;
  /** How often the watchdog checks the owner, in ms. Default 500. */
  pollMs?: number | undefined;
  /** Delays of the extra sweeps after the first removal, in ms. Default [3000, 15000]. */
  resweepDelaysMs?: readonly number[] | undefined;
  /** How long `stop()` waits for the watchdog to exit before killing it, in ms. Default 5000. */
  stopTimeoutMs?: number | undefined;
  /** How long to wait for the watchdog to say it is watching, in ms. Default 10 000. */
  startTimeoutMs?: number | undefined;
  /** Hosts the run uses beside the environment's (the `hosts` option): the watchdog cleans them too. */
  hosts?: readonly HostEntry[] | undefined;
}

/** A handle on the watchdog of a run. */
export interface Watchdog extends AsyncDisposable {
  /** The run it guards. */
  readonly runId: string;
  /** The watchdog's process id, when known. */
  readonly pid: number | undefined;
  /** Its log file. */
  readonly logPath: string;
  /** False when another process had already started this run's watchdog: `stop()` then does nothing. */
  readonly owned: boolean;
  /** The run ended cleanly: the watchdog exits without removing anything. Idempotent. */
  stop(): Promise<void>;
}

const started = new Map<string, Promise<Watchdog>>();

/** The node arguments that run the watchdog: the built `.js` beside this module, else the `.ts` source through tsx. */
function watchdogEntry(): string[] {
  const js = fileURLToPath(new URL('./watchdog-main.js', import.meta.url));
  if (existsSync(js)) return [js];
  const tsx = createRequire(import.meta.url).resolve('tsx');
  return [
    '--import',
    pathToFileURL(tsx).href,
    fileURLToPath(new URL('./watchdog-main.ts', import.meta.url)),
  ];
}

const readIfPresent = (file: string) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
};

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The watchdog's environment: the owner's, without NODE_OPTIONS. The owner's loaders and flags
 * (`--import tsx`, `--experimental-vm-modules`, `--inspect`) are for the tests; resolved from the
 * watchdog's cwd `/` a loader is not found, and the watchdog would die before it watches.
 */
function watchdogEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NODE_OPTIONS: _nodeOptions, ...rest } = env;
  return rest;
}

/** Resolves once the watchdog logged that it watches; rejects with its log if it exits or stays silent. */
async function confirmStarted(
  child: ReturnType<typeof spawn>,
  logPath: string,
  timeoutMs: number,
): Promise<void> {
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = signal ? `was killed by ${signal}` : `exited with code ${code}`;
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (readIfPresent(logPath).includes('watching run')) return;
    const problem =
      exited ?? (Date.now() > deadline ? `was silent for ${timeoutMs} ms` : undefined);
    if (problem) {
      const tail = readIfPresent(logPath).trim().split('\n').slice(-8).join('\n    ');
      throw new WatchdogError(
        `The watchdog (pid ${child.pid}) ${problem} before it started watching${tail ? `:\n    ${tail}` : '.'}`,
        {
          fix: `It runs \`${process.execPath} ${watchdogEntry().join(' ')}\` with your environment minus NODE_OPTIONS; run that to see why it fails. Its log is ${logPath}.`,
        },
      );
    }
    await pause(20);
  }
}

/** Claims the run's lock; false when a live watchdog already holds it. */
function claimLock(lock: string): boolean {
  for (let tries = 0; tries < 2; tries++) {
    try {
      writeFileSync(lock, '', { flag: 'wx' });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const [pid, start] = readFileSync(lock, 'utf8').trim().split(' ').map(Number);
      if (!pid) {
        // Empty: another process is starting the watchdog right now, unless it died doing so.
        if (Date.now() - statSync(lock).mtimeMs < 10_000) return false;
      } else if (ownerState({ pid, startTime: start ?? 0 }) === 'alive') return false;
      rmSync(lock, { force: true });
    }
  }
  return false;
}

async function spawnWatchdog(run: RunContext, options: WatchdogOptions): Promise<Watchdog> {
  const env = options.env ?? process.env;
  const stateDir = options.stateDir ?? loadConfig(env).stateDir;
  const paths = watchdogPaths(stateDir, run.runId);
  // The state dir is shared with libvirt's qemu user, which must traverse it: only the
  // watchdog's own folder is private.
  mkdirSync(stateDir, { recursive: true, mode: 0o755 });
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  if (!claimLock(paths.lock)) {
    const [pid] = readFileSync(paths.lock, 'utf8').trim().split(' ').map(Number);
    return {
      runId: run.runId,
      pid: pid || undefined,
      logPath: paths.log,
      owned: false,
      stop: async () => {},
      [Symbol.asyncDispose]: async () => {},
    };
  }
  rmSync(paths.stop, { force: true });
  const args: WatchdogArgs = {
    runId: run.runId,
    owner: run.owner,
    stateDir,
    pollMs: options.pollMs ?? 500,
    resweepDelaysMs: [...(options.resweepDelaysMs ?? [3000, 15_000])],
  };
  const logFd = openSync(paths.log, 'a');
  let child: ReturnType<typeof spawn>;
  try {
    // Detached: its own session, so neither the owner's SIGKILL nor a Ctrl-C to the group reaches it.
    child = spawn(process.execPath, [...watchdogEntry(), JSON.stringify(args)], {
      detached: true,
      stdio: ['ignore', logFd, logFd],
      cwd: '/',
      env: {
        ...watchdogEnv(env),
        // The `hosts` option is not in the environment: the watchdog must reach the same hosts.
        ...(options.hosts
          ? {
              TESTBED_HOSTS: options.hosts.map((h) => `${h.name}=${h.backend}:${h.uri}`).join(' '),
            }
          : {}),
      },
    });
  } catch (error) {
    rmSync(paths.lock, { force: true });
    throw error;
  } finally {
    closeSync(logFd);
  }
  const pid = child.pid;
  const self = { pid: pid ?? 0, startTime: pid ? processStartTime(pid) : 0 };
  writeFileSync(paths.lock, `${self.pid} ${self.startTime}`);
  try {
    await confirmStarted(child, paths.log, options.startTimeoutMs ?? 10_000);
  } catch (error) {
    if (ownerState(self) === 'alive') process.kill(self.pid, 'SIGKILL');
    rmSync(paths.lock, { force: true });
    throw error;
  } finally {
    child.unref();
  }
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      writeFileSync(paths.stop, '');
      // Wakes it at once: its SIGUSR2 handler is set before it logs that it watches, which
      // spawning waited for.
      if (ownerState(self) === 'alive') process.kill(self.pid, 'SIGUSR2');
      const deadline = Date.now() + (options.stopTimeoutMs ?? 5000);
      while (ownerState(self) === 'alive' && Date.now() < deadline) await pause(25);
      if (ownerState(self) === 'alive') process.kill(self.pid, 'SIGKILL');
      for (const file of [paths.lock, paths.stop, paths.log]) rmSync(file, { force: true });
      started.delete(run.runId);
    })();
    return stopping;
  };
  return {
    runId: run.runId,
    pid,
    logPath: paths.log,
    owned: true,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * Starts the watchdog of `run`: a detached node process that outlives its owner and, once the
 * owner is gone (SIGKILL included), removes every resource of the run on every backend, then
 * exits. Call it before creating the run's first resource. One watchdog per run: a second call
 * returns the same handle in this process, a non-owning one in another.
 */
export function startWatchdog(run: RunContext, options: WatchdogOptions = {}): Promise<Watchdog> {
  let watchdog = started.get(run.runId);
  if (!watchdog) {
    watchdog = spawnWatchdog(run, options);
    started.set(run.runId, watchdog);
    watchdog.catch(() => started.delete(run.runId));
  }
  return watchdog;
}
