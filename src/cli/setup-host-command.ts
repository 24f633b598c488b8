import { fileURLToPath } from 'node:url';
import type { CAC } from 'cac';
import { execa } from 'execa';

/** The host setup script shipped in the package (`scripts/setup-host.sh`). */
export function setupHostScript(): string {
  // Two levels up from src/cli or dist/cli is the package root, where scripts/ ships.
  return fileURLToPath(new URL('../../scripts/setup-host.sh', import.meta.url));
}

/** Runs a script with the terminal attached; resolves to its exit code. */
export type RunScript = (path: string) => Promise<number>;

const runScript: RunScript = async (path) =>
  (await execa('sh', [path], { stdio: 'inherit', reject: false })).exitCode ?? 1;

/**
 * `testbed setup-host`: the same host preparation as the repository's `scripts/setup-host.sh`
 * (Debian packages, dockerd, virtlogd, libvirtd, /dev/kvm access), for users of the npm package.
 * As non-root it installs nothing and prints the commands to run.
 */
export function registerSetupHostCommand(
  cli: CAC,
  runAction: (work: () => Promise<number>) => void,
  run: RunScript = runScript,
): void {
  cli
    .command(
      'setup-host',
      'Install and start what testbed needs on this Debian host (as root); as non-root, print what to run',
    )
    .example('sudo npx testbed setup-host')
    .action(() => runAction(() => run(setupHostScript())));
}
