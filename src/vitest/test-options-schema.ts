import { z } from 'zod';
import { InvalidSpecError, type ValidationProblem } from '../core/errors.js';

/** How long a machine lives: one test, one file, or one worker process. */
export const SCOPES = ['test', 'file', 'worker'] as const;

const got = (value: unknown) => `(got ${JSON.stringify(value)})`;

/** The plain-data options of `testbedTest` besides `needs` (parsed on their own) and `spec` (the provider's). */
const testOptionsSchema = z.looseObject({
  scope: z
    .enum(SCOPES, { error: (issue) => `must be one of ${SCOPES.join(', ')} ${got(issue.input)}` })
    .optional(),
  warm: z.boolean({ error: (issue) => `must be true or false ${got(issue.input)}` }).optional(),
  onUnmet: z
    .enum(['skip', 'fail'], { error: (issue) => `must be 'skip' or 'fail' ${got(issue.input)}` })
    .optional(),
  keepOnFailure: z
    .boolean({ error: (issue) => `must be true or false ${got(issue.input)}` })
    .optional(),
});

/** Validates `testbedTest` options at the call; every problem at once, in an `InvalidSpecError`. */
export function checkTestOptions(options: unknown): void {
  const result = testOptionsSchema.safeParse(options);
  if (result.success) return;
  const problems: ValidationProblem[] = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.') || '(options)',
    message: issue.message,
  }));
  throw new InvalidSpecError(problems, {
    fix: "scope is 'test' (default), 'file' or 'worker' (run-scoped machines go in testbed({ machines })); warm and keepOnFailure are booleans; onUnmet is 'skip' or 'fail'.",
  });
}
