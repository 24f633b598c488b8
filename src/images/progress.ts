/** Reports the progress of a long step in one short line. */
export type ProgressReporter = (message: string) => void;

/** A reporter that prints to `stream` only on a TTY outside CI; quiet (a no-op) otherwise. */
export function createProgressReporter(
  stream: NodeJS.WriteStream = process.stderr,
  env: NodeJS.ProcessEnv = process.env,
): ProgressReporter {
  if (!stream.isTTY || env.CI) return () => {};
  const started = Date.now();
  return (message) => {
    const seconds = ((Date.now() - started) / 1000).toFixed(1).padStart(5);
    stream.write(`testbed images [${seconds}s] ${message}\n`);
  };
}
