import { didYouMean } from './did-you-mean.js';
import { ConfigError, type ValidationProblem } from './errors.js';

/**
 * Throws `ConfigError` when a provider preference (TESTBED_PROVIDERS or the `providers` option)
 * names ids no registered provider has: a typo would otherwise leave a backend out silently.
 */
export function checkPreference(
  preference: readonly string[] | undefined,
  knownIds: readonly string[],
  source = 'TESTBED_PROVIDERS',
): void {
  const problems: ValidationProblem[] = (preference ?? [])
    .filter((id) => !knownIds.includes(id))
    .map((id) => {
      const hint = didYouMean(id, knownIds);
      return {
        path: source,
        message: `unknown provider id '${id}'${hint ? ` (did you mean '${hint}'?)` : ''}; known: ${knownIds.join(', ')}`,
      };
    });
  if (problems.length > 0) {
    throw new ConfigError(problems, {
      subject: 'provider preference',
      fix: `List only registered provider ids, e.g. ${knownIds.join(',')}.`,
    });
  }
}
