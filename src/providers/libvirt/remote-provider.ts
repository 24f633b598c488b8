import { parseCapability, type VmCapability, type VmType } from '../../core/capabilities.js';
import { loadConfig, type TestbedConfig } from '../../core/config.js';
import { HostUnreachableError } from '../../core/errors.js';
import { findTool } from '../../core/find-tool.js';
import { unreachableHealth } from '../../core/host-health.js';
import type { HostEntry } from '../../core/hosts.js';
import type {
  OwnedResource,
  ProviderCapacity,
  ProviderHealth,
  ProvisionerOptions,
  RemovalReport,
  VmBackendProvider,
  VmProvisioner,
} from '../../core/provider.js';
import { type RunCommand, runCommand } from '../../core/run-command.js';
import { withTimeout } from '../../core/with-timeout.js';
import { hostAddressOf } from '../../ssh/host-address.js';
import { HostLink } from '../../ssh/host-link.js';
import type { AcceleratorChoice } from './accelerator-probe.js';
import { HOST_POOL, HostPool } from './host-pool.js';
import { HostVirsh } from './host-virsh.js';
import { createImageResolver } from './image-resolver.js';
import { nodeCapacity } from './node-capacity.js';
import { probeRemoteAccelerator } from './remote-accelerator.js';
import { RemoteLibvirtProvisioner } from './remote-provisioner.js';
import { listRemoteResources, removeRemoteRun } from './remote-resources.js';
import { describeVirshVersion } from './virsh-version.js';
import type { VmImageResolver } from './vm-image.js';

/** Options for `RemoteLibvirtProvider`; all but the entry have defaults. */
export interface RemoteLibvirtProviderOptions {
  /** The host entry (`host2=libvirt:qemu+ssh://ci@host2/system`). */
  entry: HostEntry;
  /** Configuration; default read from the environment. */
  config?: TestbedConfig;
  /** Runs virsh, qemu-img and xorriso. */
  run?: RunCommand;
  /** Environment (HOME for SSH keys, SSH_AUTH_SOCK). */
  env?: NodeJS.ProcessEnv;
  /** Finds images by name or path, locally; default the image cache, then plain qcow2 paths. */
  resolveImage?: VmImageResolver;
}

/**
 * What a remote host offers: no `CloneVm`, `Snapshot` or `WarmSnapshot` (their disk layers and
 * saved memory are files on that host, not volumes), no `SharedBridge` (containers of this
 * runner cannot join its bridges).
 */
const CAPABILITIES = [
  'ProvisionVm',
  'SerialConsole',
  'HealthMonitoring',
  'NetworkOverlay',
  'DiskOverlay',
  'SshAccess',
  'Exec',
  'FileTransfer',
  'PortForward',
  'PauseResume',
  'NetworkFaults',
  'PowerControl',
  'VmType(FullVirt)',
] as const;

/** Full VMs on another machine's libvirtd, over SSH: images through the storage API, ports through tunnels. */
export class RemoteLibvirtProvider implements VmBackendProvider {
  readonly id: string;
  readonly name: string;
  readonly setupHint: string;
  readonly host: { readonly name: string; readonly uri: string };
  readonly #entry: HostEntry;
  readonly #config: TestbedConfig;
  readonly #run: RunCommand;
  readonly #env: NodeJS.ProcessEnv;
  readonly #virsh: HostVirsh;
  readonly #pool: HostPool;
  readonly #resolveImage: VmImageResolver;
  #link: HostLink | undefined;
  #accelerator: Promise<AcceleratorChoice> | undefined;

  constructor(options: RemoteLibvirtProviderOptions) {
    this.#entry = options.entry;
    this.host = { name: options.entry.name, uri: options.entry.uri };
    this.id = options.entry.providerId;
    this.name = `libvirt / QEMU on ${options.entry.name}`;
    this.setupHint = `Check that \`virsh -c '${options.entry.uri}' version\` works from here (SSH key, libvirtd running on ${options.entry.name}), or drop ${this.id} from TESTBED_HOSTS.`;
    this.#env = options.env ?? process.env;
    this.#config = options.config ?? loadConfig(this.#env);
    this.#run = options.run ?? runCommand;
    this.#virsh = new HostVirsh(options.entry.uri, this.id, this.#run);
    this.#pool = new HostPool(this.#virsh, this.id);
    this.#resolveImage =
      options.resolveImage ??
      createImageResolver({ cacheDir: this.#config.baseImagePath, run: this.#run, env: this.#env });
  }

  /** True when `virsh` is here and the URI runs over SSH; connects to nothing, never throws. */
  async isAvailable(): Promise<boolean> {
    return (await this.unavailableReason()) === undefined;
  }

  /** Why the host cannot be used from here without connecting: no virsh, or a URI not over SSH. */
  async unavailableReason(): Promise<string | undefined> {
    try {
      if (!(await findTool('virsh', this.#env))) {
        return 'virsh is not on PATH (Debian: apt-get install libvirt-clients)';
      }
      if (!hostAddressOf(this.#entry.uri, this.#env)) {
        return `${this.#entry.uri} does not run over SSH (use qemu+ssh:// or qemu+libssh://)`;
      }
      return undefined;
    } catch (error) {
      return `could not look for virsh: ${String(error)}`;
    }
  }

  /** Full VMs, without the capabilities that need the host's files (clone, snapshots, shared bridges). */
  capabilities(): VmCapability[] {
    return CAPABILITIES.map((c) => parseCapability(c));
  }

  /** Full virtualization. */
  vmType(): VmType {
    return 'FullVirt';
  }

  /** Versions, domain counts and the pool, over the host's connection; bounded in time. */
  async checkHealth(signal?: AbortSignal): Promise<ProviderHealth> {
    try {
      return await withTimeout(
        `${this.id}: checkHealth()`,
        this.#config.timeoutMs,
        (bounded) => this.#health(bounded),
        signal,
      );
    } catch (error) {
      return unreachableHealth(
        { id: this.id, uri: this.#entry.uri, setupHint: this.setupHint },
        error,
      );
    }
  }

  async #health(signal: AbortSignal): Promise<ProviderHealth> {
    const bounded = { signal, timeoutMs: this.#config.timeoutMs };
    const [version, all, running, pool] = await Promise.all([
      this.#virsh.call(['version'], bounded),
      this.#virsh.names(['list', '--all', '--name'], bounded),
      this.#virsh.names(['list', '--name'], bounded),
      this.#virsh.call(['pool-info', HOST_POOL.name], { ...bounded, reject: false }),
    ]);
    const warnings: string[] = [];
    if (pool.exitCode !== 0) {
      warnings.push(
        `no storage pool '${HOST_POOL.name}' yet: the first provision defines it at ${HOST_POOL.path}`,
      );
    }
    return {
      healthy: true,
      version: describeVirshVersion(version.stdout),
      resources: { vmsAvailable: all.length, vmsRunning: running.length },
      warnings,
      details: { uri: this.#entry.uri, host: this.#entry.name, pool: HOST_POOL.name },
    };
  }

  /** A provisioner for `run`; fails fast with `HostUnreachableError` naming the host when it does not answer. */
  async createProvisioner(options: ProvisionerOptions): Promise<VmProvisioner> {
    const address = hostAddressOf(this.#entry.uri, this.#env);
    if (!address) {
      throw new HostUnreachableError(this.id, this.#entry.uri, 'the URI does not run over SSH', {
        fix: 'Use qemu+ssh:// or qemu+libssh://.',
      });
    }
    await this.#virsh.call(['version'], { timeoutMs: 15_000 });
    this.#link ??= new HostLink(address, { providerId: this.id, uri: this.#entry.uri }, this.#env);
    let host: Promise<{ cores: number; freeMiB: number }> | undefined;
    return new RemoteLibvirtProvisioner({
      config: this.#config,
      run: options.run,
      providerId: this.id,
      virsh: this.#virsh,
      pool: this.#pool,
      link: this.#link,
      runCommand: this.#run,
      resolveImage: this.#resolveImage,
      accelerator: (kernel, signal) => this.#acceleratorChoice(kernel, options, signal),
      hostCapacity: (signal) => {
        host ??= this.capacity(signal).then((c) => ({
          cores: c.total.vcpus,
          freeMiB: c.free.memoryMiB,
        }));
        return host;
      },
    });
  }

  #acceleratorChoice(
    kernel: string | undefined,
    options: ProvisionerOptions,
    signal?: AbortSignal,
  ): Promise<AcceleratorChoice> {
    if (!kernel) {
      return Promise.resolve({
        accelerator: 'tcg',
        reason: 'no kernel to probe KVM with on the host',
        verified: false,
      });
    }
    // One probe per process: parallel provisions share its answer.
    this.#accelerator ??= probeRemoteAccelerator({
      virsh: this.#virsh,
      pool: this.#pool,
      kernel,
      stateDir: this.#config.stateDir,
      run: options.run,
      signal,
    }).catch((error: unknown) => {
      this.#accelerator = undefined;
      throw error;
    });
    return this.#accelerator;
  }

  /** Every domain, network and run volume testbed made on the host, of any run. */
  listResources(signal?: AbortSignal): Promise<OwnedResource[]> {
    return listRemoteResources(this.#virsh, this.#pool, this.id, signal);
  }

  /** Removes every domain, network and volume of `runId` on the host. */
  removeRun(runId: string, signal?: AbortSignal): Promise<RemovalReport> {
    return removeRemoteRun(this.#virsh, this.#pool, this.id, runId, signal);
  }

  /** The host's memory and CPUs, and what its running guests leave free. */
  capacity(signal?: AbortSignal): Promise<ProviderCapacity> {
    return nodeCapacity(this.#virsh, {
      timeoutMs: this.#config.timeoutMs,
      ...(signal ? { signal } : {}),
    });
  }
}
