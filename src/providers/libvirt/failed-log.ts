import { mkdir, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Where serial logs of failed boots wait for the run's end, under the run directory. */
const FAILED_DIR = 'failed';

/**
 * Moves the serial log of a machine that failed to boot out of the machine's directory (which is
 * removed) into the run's `failed/` directory, so the path an error names still exists until the
 * run is removed. Resolves to the new path, or undefined when there was no log.
 */
export async function keepFailedLog(
  serialLog: string,
  runDir: string,
): Promise<string | undefined> {
  const target = join(runDir, FAILED_DIR, `${basename(dirname(serialLog))}.serial.log`);
  try {
    await mkdir(dirname(target), { recursive: true, mode: 0o755 });
    await rename(serialLog, target);
    return target;
  } catch {
    return undefined;
  }
}
