import {
  MachineGoneError,
  PortNotForwardedError,
  UnsupportedOperationError,
} from '../../core/errors.js';
import {
  checkOptions,
  cloneOptionsSchema,
  execOptionsSchema,
  snapshotOptionsSchema,
  spawnOptionsSchema,
  transferOptionsSchema,
  withCheckedRestore,
  writeFileOptionsSchema,
} from '../../core/option-schemas.js';
import type {
  CloneOptions,
  CommandOptions,
  Endpoint,
  ExecOptions,
  ExecResult,
  FaultOptions,
  Machine,
  MachineDescriptor,
  MachineProcess,
  MachineSnapshot,
  SnapshotOptions,
  SshConnectionInfo,
  TransferOptions,
  WaitStrategy,
  WaitUntilOptions,
  WriteFileOptions,
} from '../../core/provider.js';
import { SshFileTransfer } from '../../ssh/ssh-file-transfer.js';
import { SshSession } from '../../ssh/ssh-session.js';
import { waitUntil } from '../../wait/wait-until.js';
import { SerialConsole } from './serial-console.js';

/** Static addresses and `/etc/hosts` lines a machine gets after every boot. */
export interface GuestNetwork {
  /** A static IPv4 address (with prefix length) for the NIC with this MAC. */
  addresses: readonly { mac: string; address: string }[];
  /** Lines of `/etc/hosts`, name → address, marked as testbed's so they are replaced, not added twice. */
  hosts: Readonly<Record<string, string>>;
}

/** Power operations on a machine (`PauseResume`, `PowerControl`), done by its provisioner. */
export interface MachinePower {
  pause(machine: LibvirtMachine, options?: FaultOptions): Promise<void>;
  resume(machine: LibvirtMachine, options?: FaultOptions): Promise<void>;
  reboot(machine: LibvirtMachine, options?: FaultOptions): Promise<void>;
  crash(machine: LibvirtMachine, options?: FaultOptions): Promise<void>;
  start(machine: LibvirtMachine, options?: FaultOptions): Promise<void>;
}

/** Where a machine's pieces are on the host; also the data of its descriptor. */
export interface LibvirtMachineState {
  /** Unique domain name. */
  name: string;
  /** Hostname inside the guest. */
  hostname: string;
  /** The machine's own directory under the run directory. */
  dir: string;
  /** The qcow2 overlay the guest writes to now (changes when a clone freezes the previous one). */
  disk: string;
  /** Directories of the layers under `disk` (sources of a clone); needed while this machine lives. */
  dependencies: string[];
  /** Kernel, initrd and command line for direct boot, if any. */
  boot: { kernel?: string | undefined; initrd?: string | undefined; cmdline?: string | undefined };
  /** The public half of the SSH key, reused by clones. */
  publicKey: string;
  /** Memory in MiB. */
  memoryMiB: number;
  /** Virtual CPUs. */
  vcpus: number;
  /** Isolated networks the machine joined; its clones join them too. */
  networks: readonly string[];
  /** Static addresses and `/etc/hosts` lines, applied after every boot; never inherited by clones. */
  guestNetwork?: GuestNetwork | undefined;
  /** File the serial console is written to. */
  serialLog: string;
  /** SSH connection details. */
  ssh: SshConnectionInfo;
  /** Host port on 127.0.0.1 for each forwarded guest port (SSH not included), keyed by guest port. */
  ports: Record<string, number>;
  /** The guest may open outbound connections; its clones may too. */
  outbound: boolean;
  /** What readiness means for this machine; its clones and restores wait for the same. */
  readiness: { readyPattern: string | RegExp | null; cloudInit: boolean };
}

/** What a machine asks of the provisioner that made it. */
export interface MachineLifecycle {
  /** Boots a new machine on an overlay of the source's current disk state. */
  clone(source: LibvirtMachine, options: CloneOptions): Promise<Machine>;
  /** Freezes the source's current disk state (and with `memory`, its running state) as a snapshot. */
  snapshot(source: LibvirtMachine, options: SnapshotOptions): Promise<MachineSnapshot>;
  /** Stops the domain and removes the machine's files (but what `keepArtifacts` keeps). */
  destroy(machine: LibvirtMachine, keepArtifacts: boolean): Promise<void>;
  /** Pauses, resumes, reboots, crashes and starts machines (`PauseResume`, `PowerControl`). */
  readonly power: MachinePower;
}

/** How a machine of a remote host differs: its provider's id, and a console mirrored from the host. */
export interface LibvirtMachineOptions {
  /** The id of the provider that made it; default `libvirt`. */
  providerId?: string;
  /** Brings the local copy of the serial log up to date before each console read. */
  refreshConsole?: () => Promise<void>;
}

/**
 * A libvirt VM: exec, spawn and file transfers over one reused SSH connection, its serial console,
 * forwarded ports, clone and snapshot through its provisioner.
 */
export class LibvirtMachine implements Machine {
  readonly providerId: string;
  readonly vmType = 'FullVirt' as const;
  readonly console: SerialConsole;
  /** The SSH connection shared by exec, spawn and file transfers; closed by `destroy()`. */
  readonly session: SshSession;
  readonly #files: SshFileTransfer;
  #destroying: Promise<void> | undefined;
  #gone = false;

  constructor(
    readonly state: LibvirtMachineState,
    private readonly lifecycle: MachineLifecycle | undefined,
    options: LibvirtMachineOptions = {},
  ) {
    this.providerId = options.providerId ?? 'libvirt';
    this.console = new SerialConsole(state.serialLog, {
      machineName: state.name,
      isGone: () => this.#gone,
      ...(options.refreshConsole ? { refresh: options.refreshConsole } : {}),
    });
    this.session = new SshSession(state.ssh, { name: state.name });
    this.#files = new SshFileTransfer(this.session);
  }

  /** Unique domain name. */
  get name(): string {
    return this.state.name;
  }

  /** SSH connection details (127.0.0.1 and a forwarded port). */
  get ssh(): SshConnectionInfo {
    return this.state.ssh;
  }

  /** Host-side files worth keeping when a test fails. */
  get artifacts(): Readonly<Record<string, string>> {
    return { dir: this.state.dir, disk: this.state.disk, serialLog: this.state.serialLog };
  }

  /** Runs a command over SSH: a string is shell code, an array is passed verbatim. */
  exec(
    command: string | readonly string[],
    options: ExecOptions & { encoding: 'buffer' },
  ): Promise<ExecResult<Uint8Array>>;
  exec(command: string | readonly string[], options?: ExecOptions): Promise<ExecResult>;
  async exec(
    command: string | readonly string[],
    options: ExecOptions = {},
  ): Promise<ExecResult<string | Uint8Array>> {
    checkOptions('exec()', execOptionsSchema, options);
    return this.session.exec(command, options);
  }

  /** Starts a command on its own SSH channel; its output streams as it arrives. */
  spawn(command: string | readonly string[], options: CommandOptions = {}): MachineProcess {
    checkOptions('spawn()', spawnOptionsSchema, options);
    return this.session.spawn(command, options);
  }

  /** Copies a host file or directory to `guestPath`, which it becomes (tar over SSH). */
  async copyTo(hostPath: string, guestPath: string, options?: TransferOptions): Promise<void> {
    checkOptions('copyTo()', transferOptionsSchema, options);
    return this.#files.copyTo(hostPath, guestPath, options);
  }

  /** Copies a guest file or directory to `hostPath`, which it becomes (tar over SSH). */
  async copyFrom(guestPath: string, hostPath: string, options?: TransferOptions): Promise<void> {
    checkOptions('copyFrom()', transferOptionsSchema, options);
    return this.#files.copyFrom(guestPath, hostPath, options);
  }

  /** Writes `data` to a guest file with `mode`, creating parent directories. */
  async writeFile(
    guestPath: string,
    data: string | Uint8Array,
    options?: WriteFileOptions,
  ): Promise<void> {
    checkOptions('writeFile()', writeFileOptionsSchema, options);
    return this.#files.writeFile(guestPath, data, options);
  }

  /** Reads a guest file whole. */
  async readFile(guestPath: string, options?: TransferOptions): Promise<Buffer> {
    checkOptions('readFile()', transferOptionsSchema, options);
    return this.#files.readFile(guestPath, options);
  }

  /** Where forwarded guest port `guestPort` is reached on this host. */
  endpoint(guestPort: number): Endpoint {
    const port = this.state.ports[String(guestPort)];
    if (port === undefined) {
      const forwarded = Object.keys(this.state.ports).map(Number);
      throw new PortNotForwardedError(this.name, guestPort, forwarded);
    }
    return { host: '127.0.0.1', port };
  }

  /** `http://127.0.0.1:<host port><path>` for forwarded guest port `guestPort`. */
  url(guestPort: number, path = '/', options: { protocol?: string } = {}): string {
    const { host, port } = this.endpoint(guestPort);
    const slash = path.startsWith('/') ? '' : '/';
    const protocol = (options.protocol ?? 'http').replace(/:$/, '');
    return `${protocol}://${host}:${port}${slash}${path}`;
  }

  /** A new VM starting from this one's current disk state. */
  async clone(options: CloneOptions = {}): Promise<Machine> {
    checkOptions('clone()', cloneOptionsSchema, options);
    return this.#owner('clone()').clone(this, options);
  }

  /**
   * Freezes the current disk state; `restore()` boots new machines from it. With `memory: true`
   * the running state too: restores continue from this instant, without booting.
   */
  async snapshot(options: SnapshotOptions = {}): Promise<MachineSnapshot> {
    checkOptions('snapshot()', snapshotOptionsSchema, options);
    return withCheckedRestore(await this.#owner('snapshot()').snapshot(this, options));
  }

  /** Freezes the guest (`virsh suspend`): it answers nothing until `resume()`; idempotent. */
  async pause(options?: FaultOptions): Promise<void> {
    return this.#power('pause()').pause(this, options);
  }

  /** Lets a paused guest run on (`virsh resume`); idempotent. */
  async resume(options?: FaultOptions): Promise<void> {
    return this.#power('resume()').resume(this, options);
  }

  /** Syncs, resets the guest and resolves once it is ready again (console line, SSH). */
  async reboot(options?: FaultOptions): Promise<void> {
    return this.#power('reboot()').reboot(this, options);
  }

  /** Cuts the power (`virsh destroy`): unsynced writes are lost; `start()` boots it again; idempotent. */
  async crash(options?: FaultOptions): Promise<void> {
    return this.#power('crash()').crash(this, options);
  }

  /** Boots a crashed machine from its disk, same ports, and resolves once it is ready; idempotent. */
  async start(options?: FaultOptions): Promise<void> {
    return this.#power('start()').start(this, options);
  }

  /** Plain data from which `attach()` rebuilds a handle in another process. */
  describe(): MachineDescriptor {
    return {
      providerId: this.providerId,
      name: this.name,
      vmType: this.vmType,
      data: structuredClone(this.state) as unknown as Record<string, unknown>,
    };
  }

  /**
   * Stops and removes the VM and its files (an attached handle only closes its connection);
   * idempotent and safe to call concurrently.
   */
  destroy(options: { keepArtifacts?: boolean } = {}): Promise<void> {
    this.#destroying ??= (async () => {
      // First, so commands in flight end with MachineGoneError rather than a reset connection.
      this.session.close();
      try {
        await this.lifecycle?.destroy(this, options.keepArtifacts ?? false);
      } finally {
        this.#gone = true;
      }
    })();
    return this.#destroying;
  }

  /** Resolves once every strategy holds; rejects with `WaitTimeoutError` and the console tail. */
  async waitUntil(
    strategies: WaitStrategy | readonly WaitStrategy[],
    options?: WaitUntilOptions,
  ): Promise<void> {
    return waitUntil(this, strategies, options);
  }

  /** Same as `destroy()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.destroy();
  }

  #power(operation: string): MachinePower {
    if (this.#destroying) throw new MachineGoneError(this.name, operation);
    if (!this.lifecycle) {
      throw new UnsupportedOperationError(`${operation} on ${this.name}`, this.providerId, {
        fix: 'Inject faults from the process that provisioned the machine (an attached handle only connects).',
      });
    }
    return this.lifecycle.power;
  }

  #owner(operation: string): MachineLifecycle {
    if (this.#destroying) throw new MachineGoneError(this.name, operation);
    if (!this.lifecycle) {
      throw new UnsupportedOperationError(`${operation} on ${this.name}`, this.providerId, {
        fix: 'Clone or snapshot from the process that provisioned the machine.',
      });
    }
    return this.lifecycle;
  }
}
