import type { VmCapability, VmType } from './capabilities.js';
import type { RunContext, RunOwner } from './run-context.js';

/** What a slower, connecting health check found out about a backend. */
export interface ProviderHealth {
  /** True when the backend can provision machines right now. */
  healthy: boolean;
  /** Backend version, e.g. `libvirt 9.0.0, QEMU 7.2.0` or `Docker Engine 20.10.24`. */
  version?: string | undefined;
  /** Machines the backend knows about: defined (available) and running. */
  resources: { vmsAvailable: number; vmsRunning: number };
  /** Things that work but are degraded, each with what to do about it. */
  warnings: string[];
  /** Anything else the backend knows, e.g. `{ accelerator: 'tcg' }`. */
  details?: Record<string, string | number | boolean>;
}

/** Result of a command run inside a machine; output is text unless `encoding: 'buffer'` was asked. */
export interface ExecResult<Output extends string | Uint8Array = string> {
  /** Everything the command wrote to standard output. */
  stdout: Output;
  /** Everything the command wrote to standard error. */
  stderr: Output;
  /** The command's exit code (127 with a message on stderr when the command does not exist). */
  exitCode: number;
}

/** Where and how a command runs inside a machine. */
export interface CommandOptions {
  /** Aborts the command: its processes are killed and the call rejects with `AbortedError`. */
  signal?: AbortSignal;
  /** Environment variables added to the command's environment. */
  env?: Record<string, string>;
  /** Working directory inside the machine (absolute); a missing one rejects with `TESTBED_NO_SUCH_CWD_OR_USER`, the command not run. */
  cwd?: string;
  /** User to run as (a name, or a numeric uid on containers); default: the user the machine logs in as. A missing one rejects with `TESTBED_NO_SUCH_CWD_OR_USER`. */
  user?: string;
}

/** Options for `Machine.exec`. */
export interface ExecOptions extends CommandOptions {
  /** Upper bound on the command's run time; on expiry its processes are killed. */
  timeoutMs?: number;
  /** Written to the command's standard input, then closed: text, bytes or a stream, of any size. */
  input?: string | Uint8Array | NodeJS.ReadableStream;
  /** `'buffer'` returns stdout and stderr as bytes instead of UTF-8 text. */
  encoding?: 'utf8' | 'buffer';
}

/** `Machine.exec`: runs a command to its end and collects its output. */
export interface ExecFunction {
  (
    command: string | readonly string[],
    options: ExecOptions & { encoding: 'buffer' },
  ): Promise<ExecResult<Uint8Array>>;
  (command: string | readonly string[], options?: ExecOptions): Promise<ExecResult>;
}

/** A command running inside a machine, with its streams, from `Machine.spawn`. */
export interface MachineProcess {
  /** The command's standard input; end it to send EOF. */
  readonly stdin: NodeJS.WritableStream;
  /** The command's standard output, as it arrives. */
  readonly stdout: NodeJS.ReadableStream;
  /** The command's standard error, as it arrives. */
  readonly stderr: NodeJS.ReadableStream;
  /** Resolves with the exit code once the command ends; rejects when the transport fails. */
  readonly exited: Promise<number>;
  /** Kills the command's processes; resolves once they are gone. Idempotent. */
  kill(): Promise<void>;
}

/** Options for file transfers in and out of a machine. */
export interface TransferOptions {
  /** Aborts the transfer; nothing half-written is left at the destination. */
  signal?: AbortSignal;
  /** Upper bound on the transfer. Default 10 minutes. */
  timeoutMs?: number;
}

/** Options for `Machine.writeFile`. */
export interface WriteFileOptions extends TransferOptions {
  /** File mode. Default 0o644. */
  mode?: number;
}

/** A guest port as reached from this host. */
export interface Endpoint {
  /** Always a loopback address: `127.0.0.1`. */
  host: string;
  /** The forwarded port on `host`. */
  port: number;
}

/** A guest TCP port to forward: the port number, or `{ guest, host? }` to choose the host port. */
export type PortSpec = number | { guest: number; host?: number };

/** A file put in place before `provision()` resolves: copied from the host, or given as content. */
export type FileSpec =
  | { source: string; target: string; mode?: number }
  | { content: string | Uint8Array; target: string; mode?: number };

/** One attempt of a wait strategy: whether the condition holds, and what was seen. */
export interface WaitCheck {
  /** True when the condition holds. */
  ok: boolean;
  /** What the attempt saw, for the timeout error (`connection refused`, `status 503`). */
  detail: string;
}

/** Something to wait for on a machine: a port, an HTTP answer, a command, a console line. */
export interface WaitStrategy {
  /** What is waited for, in words: `HTTP 200 from :8080/`. */
  readonly description: string;
  /** One bounded attempt; rejects only when waiting further cannot help. */
  check(machine: Machine, signal: AbortSignal): Promise<WaitCheck>;
}

/** Options for `Machine.waitUntil`. */
export interface WaitUntilOptions {
  /** Upper bound on the whole wait. Default 60 s. */
  timeoutMs?: number;
  /** Aborts the wait. */
  signal?: AbortSignal;
  /** Pause between attempts. Default 250 ms. */
  intervalMs?: number;
}

/** Options for `MachineConsole.waitFor`. */
export interface WaitForOptions {
  /** How long to wait before rejecting with the console's last lines. */
  timeoutMs?: number;
  /** Aborts the wait. */
  signal?: AbortSignal;
}

/** A machine's console output: a VM's serial port or a container's log stream. */
export interface MachineConsole {
  /** Everything written to the console so far. */
  read(): Promise<string>;
  /** The console's output as it arrives, from the beginning, until the signal aborts or the machine is gone. */
  stream(signal?: AbortSignal): AsyncIterable<string>;
  /** Resolves with the first match of `pattern`; rejects with the console's last lines on timeout. */
  waitFor(pattern: string | RegExp, options?: WaitForOptions): Promise<RegExpExecArray>;
  /** The last `lines` lines of the console, for error reports. */
  tail(lines?: number): Promise<string>;
}

/** How to reach a machine over SSH from this host. */
export interface SshConnectionInfo {
  /** Host to connect to (always a loopback address). */
  host: string;
  /** Forwarded port on `host`. */
  port: number;
  /** User to log in as. */
  username: string;
  /** Path to the private key file (mode 0600). */
  privateKeyPath: string;
  /** The private key itself, OpenSSH format. */
  privateKey: string;
}

/** Options for the fault operations: `pause`, `resume`, `reboot`, `crash`, `start`, `disconnect`, `connect`. */
export interface FaultOptions {
  /** Upper bound on the operation, readiness included where it waits for it. Default 30 s; 180 s for `reboot` and `start`. */
  timeoutMs?: number;
  /** Aborts the operation (rejects with `AbortedError`). */
  signal?: AbortSignal;
}

/** A network segment that machines of one provider can join to reach each other. */
export interface MachineNetwork extends AsyncDisposable {
  /** Backend-level name of the network. */
  readonly name: string;
  /** Provider that created the network. */
  readonly providerId: string;
  /** Cuts `machine`'s link to this network: no packet passes either way until `connect` (`NetworkFaults`); idempotent. */
  disconnect?(machine: Machine, options?: FaultOptions): Promise<void>;
  /** Restores a link that `disconnect` cut (`NetworkFaults`); idempotent. */
  connect?(machine: Machine, options?: FaultOptions): Promise<void>;
  /** The Linux bridge of this host that carries the segment, which other providers' networks can join (`SharedBridge`). */
  readonly bridge?: string;
  /** The IPv4 subnet (CIDR) machines on it take addresses from, when one was asked for. */
  readonly subnet?: string;
  /** Removes the network; idempotent. */
  destroy(): Promise<void>;
}

/** Options of `VmProvisioner.createNetwork`. */
export interface NetworkOptions {
  /** Name hint; the provider adds a unique suffix. */
  name?: string;
  /** IPv4 subnet in CIDR form (`10.213.7.0/24`) for the static addresses of `NetworkAttachment`s. */
  subnet?: string;
  /** Put the segment on that network's Linux bridge, so machines of both providers share it (`SharedBridge`). */
  join?: MachineNetwork;
  /**
   * The segment must be a Linux bridge that other providers' networks can `join`: a provider
   * whose networks cannot be refuses with `TESTBED_UNSUPPORTED` before creating anything.
   */
  shared?: boolean;
  /** Aborts creating the network; whatever was created is removed. */
  signal?: AbortSignal;
}

/** A machine's place on a network: a static address and names, where the plain network form gets neither. */
export interface NetworkAttachment {
  /** The network to join. */
  network: MachineNetwork;
  /** Static IPv4 address with prefix length (`10.213.7.11/24`), inside the network's subnet. */
  address?: string;
  /** Names other machines on the network reach this one by (Docker's DNS; VMs read `hosts`). */
  aliases?: readonly string[];
}

/** Options every provider understands when provisioning a machine. */
export interface MachineSpec {
  /** Image: a name from the image cache or a path (VMs), an image reference (containers). */
  image?: string;
  /** Name hint; the provider adds a unique suffix. */
  name?: string;
  /** Memory in MiB. */
  memoryMiB?: number;
  /** Virtual CPUs. */
  vcpus?: number;
  /** Hostname inside the machine. */
  hostname?: string;
  /** Networks to join in addition to the default host-reachable one, each plain or with a static address. */
  networks?: readonly (MachineNetwork | NetworkAttachment)[];
  /** Extra lines of the guest's `/etc/hosts`: name → IPv4 address (Docker's `--add-host`). */
  hosts?: Readonly<Record<string, string>>;
  /** Upper bound on provisioning, readiness included. */
  timeoutMs?: number;
  /** Guest TCP ports forwarded to free ports on 127.0.0.1 (`PortForward`). */
  ports?: readonly PortSpec[];
  /** Files put in place before provision resolves (`FileTransfer`). */
  files?: readonly FileSpec[];
  /**
   * Steps run once on the template, before its snapshot, and cached by their content: what every
   * machine of this spec should have installed. Runs before `files` and `waitFor`.
   */
  prepare?: PrepareSpec;
  /** Conditions that must hold before provision resolves (all of them), e.g. `Wait.forHttp(8080)`. */
  waitFor?: WaitStrategy | readonly WaitStrategy[];
  /** Aborts provisioning; whatever was created is removed. */
  signal?: AbortSignal;
  /** Backend-specific options, validated by the provider. */
  [backendOption: string]: unknown;
}

/**
 * A prepare step ("a Dockerfile for machines"): files copied in, then commands run as root, in
 * order. Its result is cached by the content of the files, the commands and `key`.
 */
export interface PrepareSpec {
  /** Put in place first, as `spec.files` are; a `source`'s content is part of the cache key. */
  files?: readonly FileSpec[];
  /** Shell commands run as root one after another (`sh -c`); the first that fails fails the step. */
  run?: string | readonly string[];
  /** Mixed into the cache key: change it to rebuild what the commands fetch from elsewhere. */
  key?: string;
}

/** Options for `Machine.clone` and `MachineSnapshot.restore`. */
export interface CloneOptions {
  /** Name hint; the provider adds a unique suffix. */
  name?: string;
  /** Aborts booting the new machine; whatever was created is removed. */
  signal?: AbortSignal;
  /** Upper bound on booting it, readiness included. Default 180 s. */
  timeoutMs?: number;
}

/** Options for `Machine.snapshot`. */
export interface SnapshotOptions {
  /**
   * Save the running guest's memory and devices too (`WarmSnapshot`): a restore then continues
   * from this instant instead of booting. Default false: the disk alone, and restores boot.
   */
  memory?: boolean;
  /** Aborts taking the snapshot; the source keeps running and nothing is left. */
  signal?: AbortSignal;
}

/** Options for `MachineSnapshot.restore`. */
export interface RestoreOptions extends CloneOptions {
  /** Hostname the new guest takes. Default: a fresh `tb-<id>`, as a cold boot gets. */
  hostname?: string;
  /** Isolated networks the new machine joins, each on a NIC of its own (attached after a warm restore). */
  networks?: readonly MachineNetwork[];
}

/** A saved machine state that new machines can start from. */
export interface MachineSnapshot {
  /** Backend-level identifier of the snapshot. */
  readonly id: string;
  /** True when restores continue from saved memory (`WarmSnapshot`) rather than booting. */
  readonly warm?: boolean;
  /** A warm template's origin: made for this call, or found in the provider's template store. */
  readonly origin?: 'made' | 'store';
  /** Starts a new machine from the saved state. */
  restore(options?: RestoreOptions): Promise<Machine>;
  /** Removes the saved state; idempotent. */
  destroy(): Promise<void>;
}

/**
 * Plain, structured-cloneable data from which another process can rebuild a handle to a machine
 * (Vitest workers, Jest test files). It carries connection details, never ownership.
 */
export interface MachineDescriptor {
  /** Provider that created the machine. */
  providerId: string;
  /** Unique backend-level name. */
  name: string;
  /** Kind of machine. */
  vmType: VmType;
  /** Backend-specific connection data (ports, key paths, log paths, container id). */
  data: Record<string, unknown>;
}

/** A throwaway machine; optional members exist when the provider offers the matching capability. */
export interface Machine extends AsyncDisposable {
  /** Unique backend-level name, e.g. `testbed-<run>-<id>`. */
  readonly name: string;
  /** Provider that created the machine. */
  readonly providerId: string;
  /** Kind of machine. */
  readonly vmType: VmType;
  /** Runs a command in the machine to its end (`Exec`). */
  exec?: ExecFunction;
  /** Starts a command and hands over its streams as it runs (`Exec`). */
  spawn?(command: string | readonly string[], options?: CommandOptions): MachineProcess;
  /** Copies a host file or directory (modes and symlinks kept) to `guestPath` (`FileTransfer`). */
  copyTo?(hostPath: string, guestPath: string, options?: TransferOptions): Promise<void>;
  /** Copies a guest file or directory (modes and symlinks kept) to `hostPath` (`FileTransfer`). */
  copyFrom?(guestPath: string, hostPath: string, options?: TransferOptions): Promise<void>;
  /** Writes `data` to a guest file, creating parent directories (`FileTransfer`). */
  writeFile?(
    guestPath: string,
    data: string | Uint8Array,
    options?: WriteFileOptions,
  ): Promise<void>;
  /** Reads a guest file whole (`FileTransfer`). */
  readFile?(guestPath: string, options?: TransferOptions): Promise<Buffer>;
  /** Where a forwarded guest port is reached on this host (`PortForward`). */
  endpoint?(guestPort: number): Endpoint;
  /** A URL for a forwarded guest port: `http://127.0.0.1:<port><path>` (`PortForward`). */
  url?(guestPort: number, path?: string, options?: { protocol?: string }): string;
  /** Resolves once every strategy holds; rejects with `WaitTimeoutError` and the console tail. */
  waitUntil(
    strategies: WaitStrategy | readonly WaitStrategy[],
    options?: WaitUntilOptions,
  ): Promise<void>;
  /** Console output (`SerialConsole` for VMs; the log stream for containers). */
  readonly console?: MachineConsole;
  /** SSH connection details (`SshAccess`). */
  readonly ssh?: SshConnectionInfo;
  /** A new machine starting from this one's current disk state (`CloneVm`). */
  clone?(options?: CloneOptions): Promise<Machine>;
  /** Saves the machine's state (`Snapshot`; with `{ memory: true }`, `WarmSnapshot`). */
  snapshot?(options?: SnapshotOptions): Promise<MachineSnapshot>;
  /** Freezes the machine: its processes stop and it answers nothing until `resume` (`PauseResume`); idempotent. */
  pause?(options?: FaultOptions): Promise<void>;
  /** Lets a paused machine run on from where it stopped (`PauseResume`); idempotent. */
  resume?(options?: FaultOptions): Promise<void>;
  /** Restarts the machine (disk kept, memory lost) and resolves once it is ready again (`PowerControl`). */
  reboot?(options?: FaultOptions): Promise<void>;
  /** Cuts the machine's power: no shutdown, unflushed writes lost; `start` brings it back (`PowerControl`); idempotent. */
  crash?(options?: FaultOptions): Promise<void>;
  /** Boots a crashed machine again from its disk and resolves once it is ready (`PowerControl`); idempotent. */
  start?(options?: FaultOptions): Promise<void>;
  /** Host-side paths worth keeping when a test fails (overlay, logs). */
  readonly artifacts?: Readonly<Record<string, string>>;
  /** Plain data from which `VmProvisioner.attach` rebuilds a handle in another process. */
  describe(): MachineDescriptor;
  /** Removes the machine and everything created for it; idempotent and safe to call concurrently. */
  destroy(options?: { keepArtifacts?: boolean }): Promise<void>;
}

/** Provisions machines on one backend. */
export interface VmProvisioner {
  /** Creates a machine and resolves once it is usable; on failure nothing is left behind. */
  provision(spec?: MachineSpec): Promise<Machine>;
  /**
   * Rebuilds a handle to a machine another process provisioned, from its descriptor. The handle
   * does not own the machine: its `destroy()` only releases local resources (connections).
   */
  attach(descriptor: MachineDescriptor): Promise<Machine>;
  /** Creates an isolated network segment (`NetworkOverlay`). */
  createNetwork?(options?: NetworkOptions): Promise<MachineNetwork>;
  /**
   * A warm template of `spec` (without per-test members) from the provider's persistent store:
   * made once per host and content for every process and run, found there afterwards. Providers
   * without one leave it out, and the harness snapshots a machine of its own.
   */
  warmTemplate?(spec: MachineSpec, options?: WarmTemplateOptions): Promise<MachineSnapshot>;
  /**
   * Starts standby machines, in the background, of the warm templates this project used last, so
   * a run's first tests lease running machines. Called once per run by the harness.
   */
  prewarm?(): Promise<void>;
  /** Destroys the run's standby machines no test leased; called when the run ends. */
  releaseStandbys?(): Promise<void>;
}

/** Options of `VmProvisioner.warmTemplate`. */
export interface WarmTemplateOptions {
  /** Told once why a stored template was not used (made for another host, unreadable, failed to restore). */
  onNote?: (message: string) => void;
}

/** Options a registry passes to `createProvisioner`. */
export interface ProvisionerOptions {
  /** The run that owns everything the provisioner creates. */
  run: RunContext;
}

/** Something testbed created on a backend, found by its run stamp (libvirt metadata, Docker labels, run directory). */
export interface OwnedResource {
  /** Provider that manages it. */
  providerId: string;
  /** What it is. */
  kind: 'domain' | 'network' | 'container' | 'image' | 'directory' | 'snapshot' | 'volume';
  /** Backend-level name (domain name, container id, path). */
  name: string;
  /** Run that created it. */
  runId: string;
  /** Process that owns that run. */
  owner: RunOwner;
  /** Creation time, ms since the epoch, when known. */
  createdAt?: number | undefined;
  /** Kept for inspection after a failure (`keepOnFailure`): swept only by `gc --kept` or `--older-than`. */
  kept?: boolean | undefined;
}

/** What `removeRun` did. */
export interface RemovalReport {
  /** Resources that are gone. */
  removed: OwnedResource[];
  /** Resources that could not be removed after retries, with the reason. */
  failed: { resource: OwnedResource; error: string }[];
}

/** A backend that can provide machines: discovered at runtime, ranked by capabilities. */
export interface VmBackendProvider {
  /** Unique identifier, e.g. `libvirt`. */
  readonly id: string;
  /** Human-readable name. */
  readonly name: string;
  /** How to make this backend usable on a host where it is not (install what, start what, set which variable). */
  readonly setupHint: string;
  /** The configured host it provisions on (a `TESTBED_HOSTS` entry); absent for this machine's own engines. */
  readonly host?: { readonly name: string; readonly uri: string } | undefined;
  /** Fast availability check with no connection; false when the backend does not apply here; never throws. */
  isAvailable(signal?: AbortSignal): Promise<boolean>;
  /** Why `isAvailable()` says false (what was looked for and not found), undefined when available; fast, never throws. */
  unavailableReason?(): Promise<string | undefined>;
  /** Capabilities offered. */
  capabilities(): VmCapability[];
  /** Kind of machine managed. */
  vmType(): VmType;
  /** Slower, connecting health check; bounded by the signal. */
  checkHealth(signal?: AbortSignal): Promise<ProviderHealth>;
  /** The bound for this provider's checks when it needs more than the registry's `defaultMs` now (a daemon its first connection starts). */
  checkTimeoutMs?(defaultMs: number): number;
  /** Creates a provisioner bound to a run. */
  createProvisioner(options: ProvisionerOptions): Promise<VmProvisioner>;
  /** Lists every resource testbed created on this backend, of any run (for `testbed ls`, the reaper). */
  listResources?(signal?: AbortSignal): Promise<OwnedResource[]>;
  /** Removes every resource of `runId`, newest first, retrying with backoff; never hangs, never throws for one stuck resource. */
  removeRun?(runId: string, signal?: AbortSignal): Promise<RemovalReport>;
  /** What the backend's host has and has free, for placement by capacity; bounded by the signal. */
  capacity?(signal?: AbortSignal): Promise<ProviderCapacity>;
}

// --- Capacity (placement across hosts) ---

/** An amount of memory and virtual CPUs. */
export interface Resources {
  /** Memory in MiB. */
  memoryMiB: number;
  /** Virtual CPUs (host CPU threads for a total). */
  vcpus: number;
}

/** What a provider's host has in all and free now, as its engine reports it. */
export interface ProviderCapacity {
  /** The host's memory and CPUs. */
  total: Resources;
  /** What is not in use: memory the kernel can hand out; CPUs not taken (the total where the engine cannot say). */
  free: Resources;
}
