/** Stable error codes; a code never changes meaning once released. */
export type TestbedErrorCode =
  | 'TESTBED_INVALID_CAPABILITY'
  | 'TESTBED_INVALID_CONFIG'
  | 'TESTBED_INVALID_SPEC'
  | 'TESTBED_INVALID_OPTIONS'
  | 'TESTBED_DUPLICATE_PROVIDER'
  | 'TESTBED_NO_MATCHING_PROVIDER'
  | 'TESTBED_PROVIDER_UNAVAILABLE'
  | 'TESTBED_UNSUPPORTED'
  | 'TESTBED_TIMEOUT'
  | 'TESTBED_COMMAND_FAILED'
  | 'TESTBED_IMAGE_NOT_FOUND'
  | 'TESTBED_IMAGE_BUILD_FAILED'
  | 'TESTBED_PROVISION_FAILED'
  | 'TESTBED_WATCHDOG_FAILED'
  | 'TESTBED_NOT_YET_AVAILABLE'
  | 'TESTBED_FILE_TRANSFER_FAILED'
  | 'TESTBED_PORT_NOT_FORWARDED'
  | 'TESTBED_WAIT_TIMEOUT'
  | 'TESTBED_MACHINE_GONE'
  | 'TESTBED_ABORTED'
  | 'TESTBED_SSH_AUTH_REFUSED'
  | 'TESTBED_SNAPSHOT_GONE'
  | 'TESTBED_NO_SPACE'
  | 'TESTBED_QEMU_CANNOT_REACH'
  | 'TESTBED_FAULT_FAILED'
  | 'TESTBED_NOT_ON_NETWORK'
  | 'TESTBED_SUBNET_TAKEN'
  | 'TESTBED_INVALID_TOPOLOGY'
  | 'TESTBED_MIXED_NETWORK_UNSUPPORTED'
  | 'TESTBED_HOST_UNREACHABLE'
  | 'TESTBED_HOST_STORAGE_DENIED'
  | 'TESTBED_PREPARE_FAILED'
  | 'TESTBED_NO_SUCH_CWD_OR_USER';

/** Options shared by every testbed error. */
export interface TestbedErrorOptions {
  /** The underlying error, kept for `error.cause` chains. */
  cause?: unknown;
  /** What the user can do about it; appended to the message. */
  fix?: string;
}

/** Base class of every error testbed throws on purpose; `code` is stable, `fix` says what to do. */
export class TestbedError extends Error {
  /** Machine-readable, stable error code. */
  readonly code: TestbedErrorCode;
  /** What the user can do about it, if anything. */
  readonly fix: string | undefined;

  constructor(code: TestbedErrorCode, message: string, options: TestbedErrorOptions = {}) {
    super(options.fix ? `${message}\n  Fix: ${options.fix}` : message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.fix = options.fix;
  }
}

/** A capability name or object that is not one testbed knows. */
export class InvalidCapabilityError extends TestbedError {
  constructor(
    readonly input: unknown,
    message: string,
    options: TestbedErrorOptions = {},
  ) {
    super('TESTBED_INVALID_CAPABILITY', message, options);
  }
}

/** One problem found while validating configuration or a spec. */
export interface ValidationProblem {
  /** Where the problem is: an environment variable name or an option path such as `machines.web.needs[0]`. */
  path: string;
  /** What is wrong with the value there. */
  message: string;
}

/** Configuration (environment or options) failed validation; every problem is listed at once. */
export class ConfigError extends TestbedError {
  constructor(
    readonly problems: readonly ValidationProblem[],
    options: TestbedErrorOptions & { subject?: string } = {},
  ) {
    const subject = options.subject ?? 'testbed configuration';
    const lines = problems.map((p) => `  - ${p.path}: ${p.message}`);
    super(
      'TESTBED_INVALID_CONFIG',
      `Invalid ${subject} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`,
      options,
    );
  }
}

/** A machine spec handed to `provision()` failed validation. */
export class InvalidSpecError extends TestbedError {
  constructor(
    readonly problems: readonly ValidationProblem[],
    options: TestbedErrorOptions = {},
  ) {
    const lines = problems.map((p) => `  - ${p.path}: ${p.message}`);
    super('TESTBED_INVALID_SPEC', `Invalid machine spec:\n${lines.join('\n')}`, options);
  }
}

/** The options of one call (`exec`, `writeFile`, `Wait.forHttp`, ...) failed validation; every problem is listed at once. */
export class InvalidOptionsError extends TestbedError {
  constructor(
    /** The method called, e.g. `exec()`. */
    readonly method: string,
    readonly problems: readonly ValidationProblem[],
    options: TestbedErrorOptions = {},
  ) {
    const lines = problems.map((p) => `  - ${p.path}: ${p.message}`);
    super(
      'TESTBED_INVALID_OPTIONS',
      `Invalid options for ${method} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`,
      options,
    );
  }
}

/** Two providers were registered under one id. */
export class DuplicateProviderError extends TestbedError {
  constructor(readonly providerId: string) {
    super(
      'TESTBED_DUPLICATE_PROVIDER',
      `A provider with id '${providerId}' is already registered.`,
      {
        fix: 'Register each provider once, or give the second one a different id.',
      },
    );
  }
}

/** Why one provider could not serve a request. */
export interface ProviderMismatch {
  /** The provider's id. */
  providerId: string;
  /** False when the backend is not usable on this host right now. */
  available: boolean;
  /** Why it is unavailable or unhealthy, when known. */
  reason?: string | undefined;
  /** Needed capabilities the provider does not offer, formatted. */
  missing: string[];
  /** How to make the provider usable, when it is the obstacle. */
  fix?: string | undefined;
}

/** No registered provider is available and offers every needed capability. */
export class NoMatchingProviderError extends TestbedError {
  constructor(
    readonly needs: readonly string[],
    readonly mismatches: readonly ProviderMismatch[],
  ) {
    const lines = mismatches.map((m) => {
      const parts: string[] = [];
      if (m.missing.length > 0) parts.push(`lacks ${m.missing.join(', ')}`);
      if (!m.available) parts.push(`unavailable${m.reason ? ` (${m.reason})` : ''}`);
      else if (m.reason) parts.push(m.reason);
      const fix = m.fix && m.missing.length === 0 ? `\n      fix: ${m.fix}` : '';
      return `  - ${m.providerId}: ${parts.join('; ')}${fix}`;
    });
    const wanted = needs.length > 0 ? needs.join(', ') : '(no specific capability)';
    super(
      'TESTBED_NO_MATCHING_PROVIDER',
      mismatches.length === 0
        ? `No provider is registered, so nothing can serve ${wanted}.`
        : `No available provider offers ${wanted}:\n${lines.join('\n')}`,
      {
        fix:
          mismatches.length === 0
            ? 'Use VmBackendRegistry.withDefaults() or register a provider.'
            : 'Apply a fix above, drop the needs no provider offers, or run `npx testbed doctor` for details.',
      },
    );
  }
}

/** A backend was asked for work while it is not usable here. */
export class ProviderUnavailableError extends TestbedError {
  constructor(
    readonly providerId: string,
    reason: string,
    options: TestbedErrorOptions = {},
  ) {
    super(
      'TESTBED_PROVIDER_UNAVAILABLE',
      `Provider '${providerId}' is unavailable: ${reason}`,
      options,
    );
  }
}

/** A machine does not offer the operation that was asked of it. */
export class UnsupportedOperationError extends TestbedError {
  constructor(operation: string, providerId: string, options: TestbedErrorOptions = {}) {
    super(
      'TESTBED_UNSUPPORTED',
      `Provider '${providerId}' does not support ${operation}.`,
      options,
    );
  }
}

/** A bounded operation did not finish in time. */
export class TimeoutError extends TestbedError {
  constructor(
    readonly operation: string,
    readonly timeoutMs: number,
    options: TestbedErrorOptions = {},
  ) {
    super('TESTBED_TIMEOUT', `${operation} did not finish within ${timeoutMs} ms.`, options);
  }
}

/** An external tool (virsh, qemu-img, docker, ...) exited with an error. */
export class CommandFailedError extends TestbedError {
  constructor(
    readonly command: string,
    readonly exitCode: number | undefined,
    readonly stderr: string,
    options: TestbedErrorOptions = {},
  ) {
    const detail = stderr.trim() ? `: ${stderr.trim().split('\n').slice(-5).join('\n    ')}` : '';
    super(
      'TESTBED_COMMAND_FAILED',
      `\`${command}\` failed${exitCode === undefined ? '' : ` (exit ${exitCode})`}${detail}`,
      options,
    );
  }
}

/** A base image is neither in the image cache nor at the given path. */
export class ImageNotFoundError extends TestbedError {
  constructor(
    readonly image: string,
    options: TestbedErrorOptions = {},
  ) {
    super('TESTBED_IMAGE_NOT_FOUND', `Image '${image}' was not found.`, options);
  }
}

/** Building a base image from its recipe failed; nothing was left in the cache. */
export class ImageBuildError extends TestbedError {
  constructor(message: string, options: TestbedErrorOptions = {}) {
    super('TESTBED_IMAGE_BUILD_FAILED', message, options);
  }
}

/** A step of a spec's `prepare` failed: the step, its command and output are named; nothing was cached. */
export class PrepareFailedError extends TestbedError {
  constructor(
    /** The step, e.g. `run[1]` or `files[0]`. */
    readonly step: string,
    message: string,
    options: TestbedErrorOptions = {},
  ) {
    super('TESTBED_PREPARE_FAILED', `prepare ${step} failed: ${message}`, {
      fix: 'Fix the step (run it by hand in a machine of the same image to see why); the template is made again on the next run.',
      ...options,
    });
  }
}

/** A machine could not be provisioned; whatever was created for it has been removed. */
export class ProvisionError extends TestbedError {
  constructor(message: string, options: TestbedErrorOptions = {}) {
    super('TESTBED_PROVISION_FAILED', message, options);
  }
}

/** The detached watchdog that removes a run's resources after a crash did not start. */
export class WatchdogError extends TestbedError {
  constructor(message: string, options: TestbedErrorOptions = {}) {
    super('TESTBED_WATCHDOG_FAILED', message, options);
  }
}

/** Why a file transfer failed, for callers that react to one kind. */
export type FileTransferFailure =
  | 'not-found'
  | 'permission'
  | 'no-space'
  | 'not-a-directory'
  | 'failed';

/** Copying into or out of a machine failed; nothing half-written was reported as done. */
export class FileTransferError extends TestbedError {
  constructor(
    /** What went wrong, in one word. */
    readonly reason: FileTransferFailure,
    /** The path the problem is about (host or guest; the message says which). */
    readonly path: string,
    message: string,
    options: TestbedErrorOptions = {},
  ) {
    super('TESTBED_FILE_TRANSFER_FAILED', message, options);
  }
}

/** A guest port was used that the machine's spec did not ask to forward. */
export class PortNotForwardedError extends TestbedError {
  constructor(
    readonly machine: string,
    readonly port: number,
    readonly forwarded: readonly number[],
  ) {
    const have = forwarded.length > 0 ? `forwarded: ${forwarded.join(', ')}` : 'none is forwarded';
    super(
      'TESTBED_PORT_NOT_FORWARDED',
      `Port ${port} of ${machine} is not forwarded to this host (${have}).`,
      { fix: `Ask for it when provisioning: ports: [${[...forwarded, port].join(', ')}].` },
    );
  }
}

/** A wait strategy did not hold in time; carries the last attempt's result and the console tail. */
export class WaitTimeoutError extends TestbedError {
  constructor(
    /** What was waited for, e.g. `HTTP 200 from :8080/health`. */
    readonly waitedFor: string,
    readonly timeoutMs: number,
    /** What the last attempt saw, e.g. `connection refused` or `status 503`. */
    readonly lastResult: string,
    /** The machine's last console lines, when it has a console. */
    readonly consoleTail: string | undefined,
    options: TestbedErrorOptions & { machine?: string } = {},
  ) {
    const tail = consoleTail
      ? `\n  Last console lines:\n    ${consoleTail.split('\n').join('\n    ')}`
      : '';
    super(
      'TESTBED_WAIT_TIMEOUT',
      `${options.machine ? `${options.machine}: ` : ''}waiting for ${waitedFor} did not succeed within ${timeoutMs} ms; last attempt: ${lastResult}${tail}`,
      {
        ...options,
        fix:
          options.fix ??
          'Check that the service starts (the console lines above), or raise timeoutMs.',
      },
    );
  }
}

/** An operation was asked of a machine that has been destroyed or whose backend lost it. */
export class MachineGoneError extends TestbedError {
  constructor(
    readonly machine: string,
    operation: string,
    options: TestbedErrorOptions = {},
  ) {
    super('TESTBED_MACHINE_GONE', `Cannot ${operation}: machine ${machine} is gone.`, {
      fix: 'Keep the machine until the operation is done (it was destroyed or removed outside testbed).',
      ...options,
    });
  }
}

/** An operation was aborted through its signal; `cause` is the signal's reason. */
export class AbortedError extends TestbedError {
  constructor(operation: string, reason: unknown) {
    // The reason is the caller's own words (`new Error('test gave up')`): say it, not just "aborted".
    const why =
      reason instanceof Error ? reason.message : reason === undefined ? '' : String(reason);
    super('TESTBED_ABORTED', `${operation} was aborted${why ? `: ${why}` : ''}.`, {
      cause: reason,
    });
  }
}

/** The guest's SSH server answers but does not let testbed's key in for the configured user. */
export class SshAuthRefusedError extends TestbedError {
  constructor(
    /** The user testbed tried to log in as. */
    readonly username: string,
    message: string,
    options: TestbedErrorOptions = {},
  ) {
    super('TESTBED_SSH_AUTH_REFUSED', message, options);
  }
}

/** A restore of a snapshot that was destroyed (or whose files were removed). */
export class SnapshotGoneError extends TestbedError {
  constructor(
    /** The snapshot's id. */
    readonly snapshot: string,
    operation: string,
    options: TestbedErrorOptions = {},
  ) {
    super('TESTBED_SNAPSHOT_GONE', `Cannot ${operation}: snapshot ${snapshot} is gone.`, {
      fix: 'Restore before destroying the snapshot, or take a new one from a running machine.',
      ...options,
    });
  }
}

/** A directory has less free space than an operation needs; names both. */
export class NoSpaceError extends TestbedError {
  constructor(
    /** The directory that is too full. */
    readonly directory: string,
    /** Bytes the operation needs there. */
    readonly neededBytes: number,
    /** Bytes free there. */
    readonly freeBytes: number,
    operation: string,
  ) {
    const mib = (bytes: number) => `${Math.ceil(bytes / 1024 ** 2)} MiB`;
    super(
      'TESTBED_NO_SPACE',
      `Cannot ${operation}: it needs ${mib(neededBytes)} in ${directory}, which has ${mib(freeBytes)} free.`,
      {
        fix: `Free space there (\`npx testbed gc\` removes what dead runs left), or point TESTBED_STATE_DIR at a larger disk.`,
      },
    );
  }
}

/** libvirt's QEMU user (qemu:///system) cannot enter a directory on the way to testbed's files. */
export class QemuCannotReachError extends TestbedError {
  constructor(
    /** The first directory the QEMU user may not enter. */
    readonly directory: string,
    /** The user QEMU runs as, e.g. `libvirt-qemu`. */
    readonly qemuUser: string,
    message: string,
    options: TestbedErrorOptions = {},
  ) {
    super('TESTBED_QEMU_CANNOT_REACH', message, options);
  }
}

/** A fault operation (`pause`, `crash`, `disconnect`, ...) failed, or a machine's fault state (paused, crashed) forbids an operation; names both. */
export class FaultFailedError extends TestbedError {
  constructor(
    /** The machine the operation was for. */
    readonly machine: string,
    /** The operation, e.g. `start()`. */
    readonly operation: string,
    reason: string,
    options: TestbedErrorOptions = {},
  ) {
    super('TESTBED_FAULT_FAILED', `Cannot ${operation} on ${machine}: ${reason}.`, options);
  }
}

/** `network.disconnect(machine)` or `connect` for a machine that never joined that network. */
export class NotOnNetworkError extends TestbedError {
  constructor(
    /** The machine. */
    readonly machine: string,
    /** The network's name. */
    readonly network: string,
  ) {
    super('TESTBED_NOT_ON_NETWORK', `Machine ${machine} is not on network ${network}.`, {
      fix: `Provision it with { networks: [network] } to join ${network}; only a link it has can be cut.`,
    });
  }
}

/** True when `error` is a testbed error, optionally with the given code. */
export function isTestbedError(error: unknown, code?: TestbedErrorCode): error is TestbedError {
  return error instanceof TestbedError && (code === undefined || error.code === code);
}

/** A network's subnet overlaps one the backend already uses; the caller may pick another. */
export class SubnetTakenError extends TestbedError {
  constructor(
    readonly subnet: string,
    providerId: string,
    options: TestbedErrorOptions = {},
  ) {
    super(
      'TESTBED_SUBNET_TAKEN',
      `Provider '${providerId}' already has a network overlapping subnet ${subnet}.`,
      {
        fix: 'Pick another subnet (topologies do so by themselves), or remove the network that uses it.',
        ...options,
      },
    );
  }
}

/** A declared topology is inconsistent: every problem is listed. */
export class TopologyError extends TestbedError {
  constructor(
    readonly problems: readonly ValidationProblem[],
    options: TestbedErrorOptions = {},
  ) {
    const lines = problems.map((p) => `  - ${p.path}: ${p.message}`);
    super(
      'TESTBED_INVALID_TOPOLOGY',
      `Invalid topology (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`,
      options,
    );
  }
}

/** A network joins machines of providers that cannot share one segment on this host. */
export class MixedNetworkError extends TestbedError {
  constructor(
    readonly network: string,
    readonly members: Readonly<Record<string, string>>,
    options: TestbedErrorOptions = {},
  ) {
    const who = Object.entries(members)
      .map(([member, provider]) => `${member} (${provider})`)
      .join(', ');
    super(
      'TESTBED_MIXED_NETWORK_UNSUPPORTED',
      `Network '${network}' joins machines of different providers: ${who}, and not all of them offer SharedBridge.`,
      options,
    );
  }
}

/** Some members of a topology have needs no provider meets; each is named with its own reason. */
export class UnmetMembersError extends TestbedError {
  constructor(
    /** Each unmet member's error, by member name. */
    readonly members: Readonly<Record<string, NoMatchingProviderError>>,
  ) {
    const lines = Object.entries(members).map(
      ([member, error]) =>
        `machines.${member}: ${error.message.split('\n  Fix: ')[0]?.replaceAll('\n', '\n  ')}`,
    );
    super('TESTBED_NO_MATCHING_PROVIDER', `No provider serves ${lines.join('\n')}`, {
      fix: 'Apply a fix above, drop the needs no provider offers, or run `npx testbed doctor` for details.',
    });
  }
}

/** A configured host's engine cannot be reached (SSH, its daemon); the message names the host. */
export class HostUnreachableError extends TestbedError {
  constructor(
    readonly providerId: string,
    readonly uri: string,
    reason: string,
    options: TestbedErrorOptions = {},
  ) {
    super(
      'TESTBED_HOST_UNREACHABLE',
      `Host ${providerId} (${uri}) cannot be reached: ${reason}`,
      options,
    );
  }
}

/** A remote libvirt host refuses testbed's storage pool: it cannot create, write or upload volumes there. */
export class HostStorageError extends TestbedError {
  constructor(
    readonly providerId: string,
    readonly pool: string,
    reason: string,
    options: TestbedErrorOptions = {},
  ) {
    super(
      'TESTBED_HOST_STORAGE_DENIED',
      `Host ${providerId} does not let testbed use storage pool '${pool}': ${reason}`,
      options,
    );
  }
}

/** A command's `cwd` or `user` does not exist in the machine; the command did not run. */
export class NoSuchCwdOrUserError extends TestbedError {
  constructor(
    /** Which of the two is missing. */
    readonly missing: 'cwd' | 'user',
    /** The directory or user name asked for. */
    readonly value: string,
    /** The machine, e.g. `testbed-ab12-web`. */
    readonly machine: string,
    /** What was run, e.g. exec `ls -l`. */
    operation: string,
    options: TestbedErrorOptions = {},
  ) {
    super(
      'TESTBED_NO_SUCH_CWD_OR_USER',
      missing === 'cwd'
        ? `${operation} on ${machine} did not run: working directory ${value} does not exist there (or is not a directory).`
        : `${operation} on ${machine} did not run: user '${value}' does not exist there.`,
      {
        fix:
          missing === 'cwd'
            ? `Create it first (exec(['mkdir', '-p', '${value}'])), or pass a cwd that exists.`
            : `Create the user first (in the image, a prepare step, or exec(['adduser', ...])), or leave user out to run as the login user.`,
        ...options,
      },
    );
  }
}
