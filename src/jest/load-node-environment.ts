import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

/** The `TestEnvironment` class of jest-environment-node, as a constructor of unknown shape. */
export type NodeEnvironmentModule = { TestEnvironment: new (...args: never[]) => object };

/**
 * Loads jest-environment-node: from the project (a peer of Jest), else from beside the running
 * Jest (e.g. `npx jest` without a local install), so the base class matches the Jest in use.
 */
export async function loadNodeEnvironment(
  entry: string | undefined = process.argv[1],
): Promise<NodeEnvironmentModule> {
  try {
    return (await import('jest-environment-node' as string)) as NodeEnvironmentModule;
  } catch (error) {
    if (!entry) throw error;
    const path = createRequire(entry).resolve('jest-environment-node');
    return (await import(pathToFileURL(path).href)) as NodeEnvironmentModule;
  }
}
