import type { Machine } from '../core/provider.js';
import { describeError } from './describe-error.js';

/** Where cleanup problems are reported. */
export type Report = (message: string) => void;

/** Destroys a machine; a failure is reported and returned, never thrown, so later cleanups still run. */
export async function destroyQuietly(
  machine: Pick<Machine, 'name' | 'destroy'>,
  options: { keepArtifacts?: boolean; report?: Report } = {},
): Promise<Error | undefined> {
  try {
    await machine.destroy({ keepArtifacts: options.keepArtifacts ?? false });
    return undefined;
  } catch (error) {
    const report = options.report ?? ((m: string) => console.error(m));
    report(`testbed: could not destroy machine ${machine.name}: ${describeError(error)}`);
    return error instanceof Error ? error : new Error(String(error));
  }
}
