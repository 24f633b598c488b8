import { existsSync } from 'node:fs';
import { parseCapability, type VmCapability, type VmType } from '../../core/capabilities.js';
import { loadConfig, type TestbedConfig } from '../../core/config.js';
import { ProviderUnavailableError } from '../../core/errors.js';
import { findTool } from '../../core/find-tool.js';
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
import type { RunContext } from '../../core/run-context.js';
import { withTimeout } from '../../core/with-timeout.js';
import {
  type AcceleratorChoice,
  cachedAccelerator,
  probeAccelerator,
} from './accelerator-probe.js';
import { createImageResolver } from './image-resolver.js';
import { libvirtSocketFor } from './libvirt-socket.js';
import { nodeCapacity } from './node-capacity.js';
import { LibvirtProvisioner } from './provisioner.js';
import { checkQemuCanReach, type HostFiles, hostFiles } from './qemu-reach.js';
import { listRunResources, removeRunResources } from './run-resources.js';
import { Virsh } from './virsh.js';
import { describeVirshVersion } from './virsh-version.js';
import type { VmImageResolver } from './vm-image.js';
import { DEFAULT_VM_IMAGE } from './vm-spec.js';

export type { VmImage, VmImageResolver } from './vm-image.js';
export type { LibvirtMachineSpec } from './vm-spec.js';

/** Options for `LibvirtProvider`; every one has a default. */
export interface LibvirtProviderOptions {
  /** Configuration; default read from the environment. */
  config?: TestbedConfig;
  /** Runs virsh, qemu-img and xorriso. */
  run?: RunCommand;
  /** Environment (for session socket paths). */
  env?: NodeJS.ProcessEnv;
  /** Finds images by name or path; default: the image cache, then plain qcow2 paths. */
  resolveImage?: VmImageResolver;
  /** Whether a path exists (availability check). */
  exists?: (path: string) => boolean;
  /** Host files read to check that libvirt's QEMU user can reach testbed's directories. */
  hostFiles?: HostFiles;
}

const CAPABILITIES = [
  'ProvisionVm',
  'CloneVm',
  'SerialConsole',
  'HealthMonitoring',
  'NetworkOverlay',
  'DiskOverlay',
  'SshAccess',
  'Exec',
  'Snapshot',
  'WarmSnapshot',
  'FileTransfer',
  'PortForward',
  'PauseResume',
  'NetworkFaults',
  'PowerControl',
  'SharedBridge',
  'VmType(FullVirt)',
] as const;

/** Daemons virsh autostarts for qemu:///session (monolithic, then modular). */
const SESSION_DAEMONS = ['/usr/sbin/libvirtd', '/usr/sbin/virtqemud'];

/**
 * Bound for checks that start a user's session daemon: it probes QEMU's capabilities before it
 * answers (4.2 s on an idle 2-core runner, more under load), past the default 5 s.
 */
const SESSION_START_MS = 30_000;

function isSessionUri(uri: string): boolean {
  try {
    const parsed = new URL(uri);
    return !parsed.hostname && parsed.pathname === '/session';
  } catch {
    return false;
  }
}

/** Full VMs through libvirt/QEMU: qcow2 overlays, serial console, SSH, clones, isolated networks. */
export class LibvirtProvider implements VmBackendProvider {
  readonly id = 'libvirt';
  readonly name = 'libvirt / QEMU';
  readonly setupHint =
    'Install libvirt and QEMU and start libvirtd (`sh scripts/setup-host.sh`), or set TESTBED_LIBVIRT_URI to a reachable libvirt URI.';
  readonly #config: TestbedConfig;
  readonly #run: RunCommand;
  readonly #env: NodeJS.ProcessEnv;
  readonly #exists: (path: string) => boolean;
  readonly #resolveImage: VmImageResolver;
  readonly #virsh: Virsh;
  readonly #hostFiles: HostFiles;
  #accelerator: Promise<AcceleratorChoice> | undefined;

  constructor(options: LibvirtProviderOptions = {}) {
    this.#config = options.config ?? loadConfig(options.env);
    this.#run = options.run ?? runCommand;
    this.#env = options.env ?? process.env;
    this.#exists = options.exists ?? existsSync;
    this.#resolveImage =
      options.resolveImage ??
      createImageResolver({ cacheDir: this.#config.baseImagePath, run: this.#run, env: this.#env });
    this.#virsh = new Virsh(this.#config.libvirtUri, this.#run);
    this.#hostFiles = options.hostFiles ?? hostFiles;
  }

  /**
   * On the local system daemon QEMU runs as its own user, which must enter testbed's state
   * directory, image cache and template store (a non-root user's home of mode 0700 is the trap); a session
   * daemon's QEMU is this user, and a remote daemon's files are not here.
   */
  #checkQemuReach(): void {
    const socket = libvirtSocketFor(this.#config.libvirtUri, this.#env);
    if (socket.remote || isSessionUri(this.#config.libvirtUri)) return;
    checkQemuCanReach(
      [
        {
          path: this.#config.stateDir,
          what: "testbed's state directory",
          variable: 'TESTBED_STATE_DIR',
        },
        {
          path: this.#config.baseImagePath,
          what: 'the image cache',
          variable: 'TESTBED_BASE_IMAGE_PATH',
        },
        {
          path: this.#config.templateDir,
          what: 'the warm template store',
          variable: 'TESTBED_TEMPLATE_DIR',
        },
      ],
      this.#hostFiles,
    );
  }

  /** True when `virsh` is on PATH and the URI's socket exists (or the URI is remote); no connection, never throws. */
  async isAvailable(_signal?: AbortSignal): Promise<boolean> {
    return (await this.unavailableReason()) === undefined;
  }

  /** Why libvirt is not usable here: no `virsh`, or no daemon socket for the URI; undefined when it is. */
  async unavailableReason(): Promise<string | undefined> {
    try {
      if (!(await findTool('virsh', this.#env))) {
        return 'virsh is not on PATH (Debian: apt-get install libvirt-clients)';
      }
      const socket = libvirtSocketFor(this.#config.libvirtUri, this.#env);
      if (socket.remote || socket.candidates.some((path) => this.#exists(path))) return undefined;
      if (isSessionUri(this.#config.libvirtUri)) {
        // virsh starts the per-user daemon on first connect: an installed daemon is enough.
        if (SESSION_DAEMONS.some((path) => this.#exists(path))) return undefined;
        return `no libvirt daemon to start for ${this.#config.libvirtUri} (no ${SESSION_DAEMONS.join(' or ')}): sudo apt-get install libvirt-daemon`;
      }
      return socket.candidates.length === 0
        ? `${this.#config.libvirtUri} is not a libvirt URI testbed can parse`
        : `libvirtd is not running for ${this.#config.libvirtUri} (no socket at ${socket.candidates.join(' or ')})`;
    } catch (error) {
      return `could not look for libvirt: ${String(error)}`;
    }
  }

  /** Full VMs with every VM capability. */
  capabilities(): VmCapability[] {
    return CAPABILITIES.map((c) => parseCapability(c));
  }

  /** Full virtualization. */
  vmType(): VmType {
    return 'FullVirt';
  }

  /** Longer while the user's session daemon is not running yet: the first connection starts it. */
  checkTimeoutMs(defaultMs: number): number {
    if (!isSessionUri(this.#config.libvirtUri)) return defaultMs;
    const socket = libvirtSocketFor(this.#config.libvirtUri, this.#env);
    const running = !socket.remote && socket.candidates.some((path) => this.#exists(path));
    return running ? defaultMs : Math.max(defaultMs, SESSION_START_MS);
  }

  /** Versions, domain counts and the accelerator that really works; bounded in time. */
  async checkHealth(signal?: AbortSignal): Promise<ProviderHealth> {
    const timeoutMs = this.checkTimeoutMs(this.#config.timeoutMs);
    try {
      return await withTimeout(
        'libvirt: checkHealth()',
        timeoutMs,
        (bounded) => this.#health(bounded, timeoutMs),
        signal,
      );
    } catch (error) {
      return {
        healthy: false,
        resources: { vmsAvailable: 0, vmsRunning: 0 },
        warnings: [
          `libvirt at ${this.#config.libvirtUri} did not answer: ${(error as Error).message.split('\n')[0]}. ${this.setupHint}`,
        ],
      };
    }
  }

  async #health(signal: AbortSignal, timeoutMs: number): Promise<ProviderHealth> {
    const bounded = { signal, timeoutMs };
    const warnings: string[] = [];
    let unreachable: string | undefined;
    try {
      this.#checkQemuReach();
    } catch (error) {
      // Healthy still: provisioning then fails with the coded error, naming the directory.
      unreachable = (error as Error).message.replace('\n  Fix:', ' Fix:');
      warnings.push(unreachable);
    }
    const [version, all, running, accelerator] = await Promise.all([
      this.#virsh.call(['version'], bounded),
      this.#virsh.names(['list', '--all', '--name'], bounded),
      this.#virsh.names(['list', '--name'], bounded),
      // A probe guest QEMU cannot open would "prove" that KVM does not work, and be cached.
      unreachable
        ? ({
            accelerator: 'tcg',
            reason: 'not probed: QEMU cannot reach the state directory (above)',
            verified: false,
          } satisfies AcceleratorChoice)
        : this.#acceleratorChoice(undefined, signal, undefined, false),
    ]);
    if (accelerator.accelerator === 'tcg') {
      warnings.push(`guests run under TCG (emulation, slower): ${accelerator.reason}`);
    }
    return {
      healthy: true,
      version: describeVirshVersion(version.stdout),
      resources: { vmsAvailable: all.length, vmsRunning: running.length },
      warnings,
      details: {
        uri: this.#config.libvirtUri,
        accelerator: accelerator.accelerator,
        acceleratorVerified: accelerator.verified,
      },
    };
  }

  /**
   * The accelerator: cached per host boot; a KVM boot of a kernel decides it once. An image that
   * boots from its own disk has no kernel file, so the probe boots the tiny image's kernel:
   * otherwise a disk-booted image on a KVM host would silently run under TCG.
   */
  async #acceleratorChoice(
    bootKernel: string | undefined,
    signal?: AbortSignal,
    run?: RunContext,
    boot = true,
  ) {
    const base = { virsh: this.#virsh, stateDir: this.#config.stateDir, signal, run };
    const cached = await cachedAccelerator(base);
    if (cached) return cached;
    // Health checks only look (cheap checks, or the cached answer): a first image build or a KVM
    // guest that hangs for the probe's 6 s would outlast their bound and make libvirt "unhealthy".
    if (!boot) return probeAccelerator(base);
    const kernel = bootKernel ?? (await this.#probeKernel(signal));
    const options = { ...base, kernel };
    if (!kernel) return probeAccelerator(options);
    // One probe per process at a time: parallel provisions share its answer.
    this.#accelerator ??= probeAccelerator(options).catch((error: unknown) => {
      this.#accelerator = undefined;
      throw error;
    });
    return this.#accelerator;
  }

  /**
   * Settles which accelerator guests get by booting a KVM guest when that is not known yet (the
   * tiny image is built first if missing); `testbed doctor` calls it, so its report is verified.
   */
  async verifyAccelerator(signal?: AbortSignal): Promise<AcceleratorChoice> {
    this.#checkQemuReach();
    return this.#acceleratorChoice(undefined, signal);
  }

  /** A kernel to probe KVM with: the tiny image's (built if missing), or none when that fails. */
  async #probeKernel(signal?: AbortSignal): Promise<string | undefined> {
    const tiny = await this.#resolveImage(DEFAULT_VM_IMAGE, signal).catch(() => undefined);
    return tiny?.kernel;
  }

  /** A provisioner for `run`; fails fast with `ProviderUnavailableError` when libvirt is unreachable. */
  async createProvisioner(options: ProvisionerOptions): Promise<VmProvisioner> {
    const reachable = await this.#virsh
      .call(['version'], { timeoutMs: 15_000 })
      .catch((error: unknown) => error);
    if (reachable instanceof Error) {
      if (reachable instanceof ProviderUnavailableError) throw reachable;
      throw new ProviderUnavailableError(this.id, reachable.message.split('\n')[0] ?? '', {
        cause: reachable,
        fix: this.setupHint,
      });
    }
    this.#checkQemuReach();
    return new LibvirtProvisioner({
      config: this.#config,
      run: options.run,
      virsh: this.#virsh,
      runCommand: this.#run,
      resolveImage: this.#resolveImage,
      accelerator: (kernel, signal) => this.#acceleratorChoice(kernel, signal, options.run),
    });
  }

  /** Every domain, network and run directory testbed created here, of any run. */
  listResources(signal?: AbortSignal): Promise<OwnedResource[]> {
    return listRunResources(this.#virsh, this.#config.stateDir, signal);
  }

  /** Removes every domain, network and file of `runId`; reports what would not go. */
  removeRun(runId: string, signal?: AbortSignal): Promise<RemovalReport> {
    return removeRunResources(this.#virsh, this.#config.stateDir, runId, signal);
  }

  /** The host's memory and CPUs, and what running guests leave free (virsh nodeinfo, nodememstats, domstats). */
  capacity(signal?: AbortSignal): Promise<ProviderCapacity> {
    return nodeCapacity(this.#virsh, {
      timeoutMs: this.#config.timeoutMs,
      ...(signal ? { signal } : {}),
    });
  }
}
