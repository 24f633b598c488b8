import { delimiter, join } from 'node:path';

/** The first `PATH` entry holding `command`, using `exists` so tests can pass a fake file system. */
export function findOnPath(
  command: string,
  env: NodeJS.ProcessEnv,
  exists: (path: string) => boolean,
): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && exists(join(dir, command))) return join(dir, command);
  }
  return undefined;
}
