import { ProviderUnavailableError } from '../../core/errors.js';
import { type CommandResult, type RunCommand, runCommand } from '../../core/run-command.js';

/** Options for one virsh call. */
export interface VirshCallOptions {
  /** Aborts the call. */
  signal?: AbortSignal;
  /** Upper bound; default the client's `timeoutMs`. */
  timeoutMs?: number;
  /** When false, a non-zero exit resolves instead of rejecting. Default true. */
  reject?: boolean;
  /** Written to virsh's standard input (read as `/dev/stdin`). */
  input?: string;
}

/** virsh's stderr when the daemon cannot be reached at all. */
const UNREACHABLE = /failed to connect to the hypervisor/i;

/** A virsh client bound to one connection URI; every call is bounded in time. */
export class Virsh {
  constructor(
    readonly uri: string,
    private readonly run: RunCommand = runCommand,
    private readonly timeoutMs = 30_000,
  ) {}

  /** Runs `virsh -c <uri> <args>`; an unreachable daemon becomes `ProviderUnavailableError`. */
  async call(args: readonly string[], options: VirshCallOptions = {}): Promise<CommandResult> {
    try {
      return await this.run('virsh', ['-q', '-c', this.uri, ...args], {
        timeoutMs: options.timeoutMs ?? this.timeoutMs,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.reject === false ? { reject: false } : {}),
        ...(options.input !== undefined ? { input: options.input } : {}),
      });
    } catch (error) {
      const stderr = (error as { stderr?: unknown }).stderr;
      if (typeof stderr === 'string' && UNREACHABLE.test(stderr)) {
        throw new ProviderUnavailableError('libvirt', `cannot connect to ${this.uri}: ${stderr}`, {
          cause: error,
          fix: `Start libvirtd (\`sh scripts/setup-host.sh\` or \`systemctl start libvirtd\`) or set TESTBED_LIBVIRT_URI to a reachable URI.`,
        });
      }
      throw error;
    }
  }

  /** Names printed one per line by a `--name` listing. */
  async names(args: readonly string[], options: VirshCallOptions = {}): Promise<string[]> {
    const { stdout } = await this.call(args, options);
    return stdout
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean);
  }
}
