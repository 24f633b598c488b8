import { HostUnreachableError, ProviderUnavailableError } from '../../core/errors.js';
import type { CommandResult, RunCommand } from '../../core/run-command.js';
import { Virsh, type VirshCallOptions } from './virsh.js';

/** virsh's words when the connection to a remote daemon breaks or never forms. */
const CONNECTION_LOST =
  /cannot recv data|end of file while reading data|connection (refused|reset|timed out)|no route to host|could not resolve|host key|authentication failed|broken pipe|failed to connect socket/i;

const UNREACHABLE = new RegExp(
  `${CONNECTION_LOST.source}|failed to connect to the hypervisor`,
  'i',
);

/** virsh bound to a remote host's URI: a lost connection is `HostUnreachableError` naming the host. */
export class HostVirsh extends Virsh {
  constructor(
    uri: string,
    readonly providerId: string,
    run?: RunCommand,
    timeoutMs?: number,
  ) {
    super(uri, run, timeoutMs);
  }

  override async call(
    args: readonly string[],
    options: VirshCallOptions = {},
  ): Promise<CommandResult> {
    let result: CommandResult;
    try {
      result = await super.call(args, options);
    } catch (error) {
      // The base class wraps an unreachable daemon's CommandFailedError: its stderr says why.
      const failed = error instanceof ProviderUnavailableError ? error.cause : error;
      const stderr = String((failed as { stderr?: unknown } | undefined)?.stderr ?? '');
      if (error instanceof ProviderUnavailableError || CONNECTION_LOST.test(stderr)) {
        throw this.#unreachable(stderr || (error as Error).message, error);
      }
      throw error;
    }
    // Calls that do not reject still must not mistake a dead host for "not found".
    if (result.exitCode !== 0 && UNREACHABLE.test(result.stderr)) {
      throw this.#unreachable(result.stderr);
    }
    return result;
  }

  #unreachable(stderr: string, cause?: unknown): HostUnreachableError {
    // virsh says "failed to connect to the hypervisor" first and why on the last line.
    const lines = stderr
      .split('\n')
      .map((line) => line.replace(/^error:\s*/, '').trim())
      .filter(Boolean);
    const reason = lines.at(-1) ?? 'virsh could not connect';
    return new HostUnreachableError(this.providerId, this.uri, reason, {
      cause,
      fix: `Check that libvirtd runs on that host and that \`virsh -c '${this.uri}' version\` works from here; or drop ${this.providerId} from TESTBED_HOSTS.`,
    });
  }
}
