import { InvalidSpecError, type ValidationProblem } from '../core/errors.js';
import type { CommandOptions } from '../core/provider.js';
import type { CommandContextChecks } from './pgid-line.js';
import { quoteShellArgument as q, toRemoteCommand } from './shell-quote.js';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The shell code an SSH server runs for `command` with `env`, `cwd` and `user` applied: exports
 * and `cd` come first, inside the user switch so they apply to the user's shell (`su` as root,
 * `sudo -n` otherwise, since only root may `su` without a password).
 */
export function buildRemoteCommand(
  command: string | readonly string[],
  options: Pick<CommandOptions, 'env' | 'cwd' | 'user'>,
  loginUser: string,
): string {
  const problems: ValidationProblem[] = [];
  const lines: string[] = [];
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (!ENV_NAME.test(name)) {
      problems.push({ path: `env.${name}`, message: 'is not a valid variable name' });
    }
    lines.push(`export ${name}=${q(String(value))}`);
  }
  if (options.cwd !== undefined) lines.push(`cd -- ${q(options.cwd)} || exit`);
  const user = options.user;
  if (user !== undefined && (user === '' || user.startsWith('-'))) {
    problems.push({ path: 'user', message: `is not a user name (${JSON.stringify(user)})` });
  }
  const base = toRemoteCommand(command);
  if (problems.length > 0) throw new InvalidSpecError(problems);
  const script = lines.length > 0 ? `${lines.join('\n')}\n${base}` : base;
  if (user === undefined || user === loginUser) return script;
  return loginUser === 'root'
    ? `su -s /bin/sh ${q(user)} -c ${q(script)}`
    : `sudo -n -u ${q(user)} -- /bin/sh -c ${q(script)}`;
}

/**
 * The prologue's checks that `options.user` and `options.cwd` exist (see `pgidPrologue`): the user
 * by `id`, the directory by `test -d` as the login user, or as root through `sudo -n` when the
 * login user switches to another user and cannot see it.
 */
export function contextChecks(
  options: Pick<CommandOptions, 'cwd' | 'user'>,
  loginUser: string,
): CommandContextChecks {
  const switches = options.user !== undefined && options.user !== loginUser;
  const checks: CommandContextChecks = {};
  if (switches) checks.user = `id -u ${q(options.user as string)} >/dev/null 2>&1`;
  if (options.cwd !== undefined) {
    const dir = q(options.cwd);
    checks.cwd =
      switches && loginUser !== 'root'
        ? `[ -d ${dir} ] || sudo -n test -d ${dir} 2>/dev/null`
        : `[ -d ${dir} ]`;
  }
  return checks;
}
