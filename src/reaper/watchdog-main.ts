import { appendFileSync, existsSync, rmSync } from 'node:fs';
import { ownerState } from './owner-state.js';
import { reapRun } from './reap-run.js';
import { watchOwner } from './watch-owner.js';
import { watchdogArgsSchema } from './watchdog-args.js';
import { watchdogPaths } from './watchdog-paths.js';

// Entry point of the detached watchdog process that `startWatchdog` spawns; not a library module.
const args = watchdogArgsSchema.parse(JSON.parse(process.argv[2] ?? '{}'));
const paths = watchdogPaths(args.stateDir, args.runId);
const log = (line: string) => {
  try {
    appendFileSync(paths.log, `${new Date().toISOString()} [${process.pid}] ${line}\n`);
  } catch {
    // A log that cannot be written (state dir removed) must not stop the cleanup.
  }
};

// A terminal hang-up or a Ctrl-C meant for the tests must not stop the cleanup.
process.on('SIGINT', () => log('ignoring SIGINT'));
process.on('SIGHUP', () => log('ignoring SIGHUP'));
let wake: (() => void) | undefined;
process.on('SIGUSR2', () => wake?.());
const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      wake = undefined;
      resolve();
    };
    const timer = setTimeout(done, ms);
    wake = done;
  });

const removeFiles = (files: string[]) => {
  for (const file of files) rmSync(file, { force: true });
};

try {
  log(`watching run ${args.runId}, owner pid ${args.owner.pid} (start ${args.owner.startTime})`);
  // Loaded while watching, not after the owner dies (≈ 1 s): the removal starts that much sooner.
  // Its failure is the removal's to report.
  const registryModule = import('../registry.js');
  registryModule.catch(() => undefined);
  const outcome = await watchOwner({
    isOwnerAlive: () => ownerState(args.owner) !== 'dead',
    isStopRequested: () => existsSync(paths.stop),
    pollMs: args.pollMs,
    sleep,
  });
  if (outcome === 'stopped') {
    removeFiles([paths.lock, paths.stop, paths.log]);
    process.exit(0);
  }
  log(`owner pid ${args.owner.pid} is gone: removing everything of run ${args.runId}`);
  // Every call inside is bounded; this is the last word should something still never settle.
  setTimeout(() => {
    log('gave up: the removal did not finish within 15 minutes');
    process.exit(3);
  }, 900_000).unref();
  const { VmBackendRegistry } = await registryModule;
  const registry = VmBackendRegistry.withDefaults();
  const providers = registry.providers().filter((p) => p.removeRun);
  log(`providers: ${providers.map((p) => p.id).join(', ') || '(none can remove runs)'}`);
  const summary = await reapRun(args.runId, providers, {
    log,
    sleep,
    resweepDelaysMs: args.resweepDelaysMs,
  });
  log(`done: ${summary.removed.length} removed, ${summary.failed.length} left`);
  removeFiles([paths.lock, paths.stop]);
  process.exit(summary.failed.length > 0 ? 1 : 0);
} catch (error) {
  log(
    `watchdog failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
  );
  removeFiles([paths.lock]);
  process.exit(2);
}
