import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Marks a machine directory as kept for inspection after a failure (`keepOnFailure`). */
const MARKER = 'kept.json';

/** Writes the kept marker into a machine's directory. */
export async function writeKeptMarker(machineDir: string, machine: string): Promise<void> {
  await writeFile(join(machineDir, MARKER), JSON.stringify({ machine, keptAt: Date.now() }));
}

/** True when a run directory holds a machine kept for inspection. */
export async function holdsKeptMachine(runDir: string): Promise<boolean> {
  const entries = await readdir(runDir, { withFileTypes: true }).catch(() => []);
  const marks = await Promise.all(
    entries
      .filter((e) => e.isDirectory())
      .map((e) =>
        stat(join(runDir, e.name, MARKER)).then(
          () => true,
          () => false,
        ),
      ),
  );
  return marks.includes(true);
}
