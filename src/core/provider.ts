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

/** Result of a command run inside a machine. */
export interface ExecResult {
  /** Everything the command wrote to standard output. */
  stdout: string;
  /** Everything the command wrote to standard error. */
  stderr: string;
  /** The command's exit code. */
  exitCode: number;
}

/** Options for `Machine.exec`. */
export interface ExecOptions {
  /** Aborts the command. */
  signal?: AbortSignal;
  /** Upper bound on the command's run time. */
  timeoutMs?: number;
  /** Written to the command's standard input. */
  input?: string;
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

/** A network segment that machines of one provider can join to reach each other. */
export interface MachineNetwork extends AsyncDisposable {
  /** Backend-level name of the network. */
  readonly name: string;
  /** Provider that created the network. */
  readonly providerId: string;
  /** Removes the network; idempotent. */
  destroy(): Promise<void>;
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
  /** Networks to join in addition to the default host-reachable one. */
  networks?: MachineNetwork[];
  /** Upper bound on provisioning, readiness included. */
  timeoutMs?: number;
  /** Aborts provisioning; whatever was created is removed. */
  signal?: AbortSignal;
  /** Backend-specific options, validated by the provider. */
  [backendOption: string]: unknown;
}

/** A saved machine state that new machines can start from. */
export interface MachineSnapshot {
  /** Backend-level identifier of the snapshot. */
  readonly id: string;
  /** Starts a new machine from the saved state. */
  restore(): Promise<Machine>;
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
  /** Runs a command in the machine (`Exec`). */
  exec?(command: string | readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /** Console output (`SerialConsole` for VMs; the log stream for containers). */
  readonly console?: MachineConsole;
  /** SSH connection details (`SshAccess`). */
  readonly ssh?: SshConnectionInfo;
  /** A new machine starting from this one's current disk state (`CloneVm`). */
  clone?(options?: { name?: string; signal?: AbortSignal }): Promise<Machine>;
  /** Saves the machine's state (`Snapshot`). */
  snapshot?(): Promise<MachineSnapshot>;
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
  createNetwork?(options?: { name?: string; signal?: AbortSignal }): Promise<MachineNetwork>;
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
  kind: 'domain' | 'network' | 'container' | 'image' | 'directory' | 'snapshot';
  /** Backend-level name (domain name, container id, path). */
  name: string;
  /** Run that created it. */
  runId: string;
  /** Process that owns that run. */
  owner: RunOwner;
  /** Creation time, ms since the epoch, when known. */
  createdAt?: number | undefined;
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
  /** Creates a provisioner bound to a run. */
  createProvisioner(options: ProvisionerOptions): Promise<VmProvisioner>;
  /** Lists every resource testbed created on this backend, of any run (for `testbed ls`, the reaper). */
  listResources?(signal?: AbortSignal): Promise<OwnedResource[]>;
  /** Removes every resource of `runId`, newest first, retrying with backoff; never hangs, never throws for one stuck resource. */
  removeRun?(runId: string, signal?: AbortSignal): Promise<RemovalReport>;
}
