import { execa, type Result } from 'execa';
import { runLeftovers } from './run-leftovers.js';
import { until } from './until.js';

/** What an interrupted run printed, and how it ended. */
export interface InterruptedRun {
  runId: string;
  result: Result<{ reject: false; all: true }>;
  output: string;
}

/**
 * Starts a test runner as a user would, waits until `ready` sees something of its run, then sends
 * SIGINT (Ctrl-C) and waits for it to exit.
 */
export async function interruptRun(options: {
  file: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  ready: (runId: string) => Promise<boolean>;
}): Promise<InterruptedRun> {
  const child = execa(options.file, options.args, {
    env: options.env,
    extendEnv: false,
    reject: false,
    all: true,
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  let output = '';
  child.all?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  try {
    const runId = await until(
      'the run id',
      60_000,
      async () => /testbed: run ([a-z0-9]{8})/.exec(output)?.[1],
    );
    await until('the kill point', 120_000, async () =>
      (await options.ready(runId)) ? true : undefined,
    );
    child.kill('SIGINT');
    const result = await child;
    return { runId, result, output };
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n${output}`, { cause: error });
  }
}

/** Waits until the watchdog removed everything of the run; the error lists what is left. */
export async function expectRunRemoved(runId: string, timeoutMs = 60_000): Promise<void> {
  await until('the watchdog to remove the run', timeoutMs, async () =>
    (await runLeftovers(runId)).length === 0 ? true : undefined,
  ).catch(async (error: Error) => {
    throw new Error(`${error.message}; left: ${(await runLeftovers(runId)).join(', ')}`);
  });
}
