import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestbedConfig } from '../../core/config.js';
import {
  AbortedError,
  ImageNotFoundError,
  InvalidSpecError,
  ProvisionError,
  TestbedError,
  TimeoutError,
  UnsupportedOperationError,
} from '../../core/errors.js';
import type {
  Machine,
  MachineDescriptor,
  MachineNetwork,
  MachineSnapshot,
  MachineSpec,
  NetworkOptions,
  VmProvisioner,
} from '../../core/provider.js';
import type { RunCommand } from '../../core/run-command.js';
import { type RunContext, shortId } from '../../core/run-context.js';
import { applyFileSpecs } from '../../files/apply-file-specs.js';
import { createNoCloudSeed } from '../../images/nocloud-seed.js';
import { generateSshKeyPair } from '../../ssh/generate-ssh-key-pair.js';
import type { HostForward, HostLink } from '../../ssh/host-link.js';
import { waitForSsh } from '../../ssh/wait-for-ssh.js';
import { writeSshKeyFiles } from '../../ssh/write-ssh-key-files.js';
import type { AcceleratorChoice } from './accelerator-probe.js';
import { BootSlots, bootCapacity } from './boot-slots.js';
import { waitForCloudInit } from './cloud-init-wait.js';
import { contentHash } from './content-hash.js';
import { createDomain } from './create-domain.js';
import { buildDomainXml } from './domain-xml.js';
import { keepFailedLog } from './failed-log.js';
import { configureGuestNetwork, freshMac } from './guest-network.js';
import type { HostPool } from './host-pool.js';
import { imageReadiness } from './image-readiness.js';
import {
  type GuestNetwork,
  LibvirtMachine,
  type LibvirtMachineState,
  type MachineLifecycle,
} from './libvirt-machine.js';
import { createLibvirtNetwork } from './libvirt-network.js';
import { LibvirtPowerControl } from './power-control.js';
import { virtualSizeOf } from './qemu-img.js';
import { ensureRunDirectory } from './run-directory.js';
import { teardownDomain } from './teardown.js';
import type { Virsh } from './virsh.js';
import type { VmImage, VmImageResolver } from './vm-image.js';
import { parseVmSpec } from './vm-spec.js';
import { VolumeLogMirror } from './volume-log-mirror.js';

/** What a provisioner for a remote libvirt host works with. */
export interface RemoteProvisionerOptions {
  /** testbed configuration (state dir, SSH port). */
  config: TestbedConfig;
  /** The run that owns everything created. */
  run: RunContext;
  /** The provider's id, e.g. `libvirt@host2`. */
  providerId: string;
  /** virsh bound to the host's URI. */
  virsh: Virsh;
  /** testbed's storage pool on the host. */
  pool: HostPool;
  /** The SSH connection that carries tunnels to guest ports. */
  link: HostLink;
  /** Runs qemu-img and xorriso locally. */
  runCommand: RunCommand;
  /** Resolves image names and paths to local files (built here when missing). */
  resolveImage: VmImageResolver;
  /** The accelerator that works on the host, probed with an uploaded kernel. */
  accelerator: (kernelPath: string | undefined, signal?: AbortSignal) => Promise<AcceleratorChoice>;
  /** The host's CPUs and free memory, for its boot queue. */
  hostCapacity: (signal?: AbortSignal) => Promise<{ cores: number; freeMiB: number }>;
}

const QUEUE_TIMEOUT_MS = 600_000;

/** A port for a guest forward on the host's loopback. */
function hostPort(): number {
  return 20_000 + Math.floor(Math.random() * 40_000);
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The machine's remote pieces: tunnels to close and volumes to delete, newest first. */
interface RemoteParts {
  forwards: HostForward[];
  volumes: string[];
  mirror: VolumeLogMirror;
}

/**
 * Provisions VMs on a remote libvirt host. Nothing there is a local file: the base image, kernel
 * and initrd are uploaded once per host through the storage API, the overlay, seed and serial log
 * are volumes of the run, the console is mirrored by downloading the log volume, and SSH and the
 * asked guest ports, bound on the host's loopback, reach the runner's 127.0.0.1 through tunnels.
 * The machine's key and a copy of its console stay in `<stateDir>/<runId>/<name>/` here.
 */
export class RemoteLibvirtProvisioner implements VmProvisioner, MachineLifecycle {
  readonly power: LibvirtPowerControl;
  readonly #runDir: string;
  readonly #slots: BootSlots;
  readonly #parts = new Map<string, RemoteParts>();

  constructor(private readonly options: RemoteProvisionerOptions) {
    this.power = new LibvirtPowerControl(options.virsh);
    this.#runDir = join(options.config.stateDir, options.run.runId);
    // Each host has a boot queue of its own: its cores are not this machine's.
    this.#slots = new BootSlots(
      join(options.config.stateDir, `.boot-queue-${options.providerId.replace(/[^\w.-]/g, '_')}`),
    );
  }

  /** Creates a VM on the host from `spec` and resolves once SSH answers; on any failure nothing is left. */
  async provision(spec: MachineSpec = {}): Promise<Machine> {
    const parsed = parseVmSpec(spec);
    const { signal } = parsed;
    if (signal?.aborted) throw new AbortedError('Provisioning', signal.reason);
    const started = Date.now();
    const deadline = AbortSignal.timeout(parsed.timeoutMs);
    const bounded = signal ? AbortSignal.any([signal, deadline]) : deadline;
    const { run, pool, virsh, config } = this.options;
    const id = shortId(6);
    const name = `testbed-${run.runId}-${parsed.name ? `${parsed.name}-` : ''}${id}`;
    const hostname = parsed.hostname ?? `tb-${id}`;
    const dir = join(this.#runDir, name);
    const undo: (() => Promise<unknown>)[] = [];
    const parts: RemoteParts = {
      forwards: [],
      volumes: [],
      mirror: new VolumeLogMirror(pool, `${name}-serial.log`, join(dir, 'serial.log')),
    };
    let machine: LibvirtMachine | undefined;
    let slot: Awaited<ReturnType<BootSlots['acquire']>> | undefined;
    try {
      const image = await this.#resolveImage(parsed.image, bounded);
      await pool.ensure(bounded);
      const [base, kernel, initrd] = await Promise.all([
        this.#upload('base', image.base, bounded),
        this.#upload('kernel', parsed.kernel ?? image.kernel, bounded),
        this.#upload('initrd', parsed.initrd ?? image.initrd, bounded),
      ]);
      const { accelerator } = await this.options.accelerator(kernel, bounded);
      const memoryMiB = parsed.memoryMiB;
      const host = await this.options.hostCapacity(bounded);
      slot = await this.#slots.acquire(
        name,
        config.maxBoots ?? bootCapacity({ ...host, memoryMiB, vcpus: parsed.vcpus, accelerator }),
        { signal: bounded, queueTimeoutMs: QUEUE_TIMEOUT_MS },
      );
      await ensureRunDirectory(this.#runDir, run);
      undo.push(() => rm(dir, { recursive: true, force: true }));
      await mkdir(dir, { mode: 0o700 });
      const sshUser = parsed.sshUser ?? image.sshUser ?? 'root';
      const keys = generateSshKeyPair(`testbed@${name}`);
      const keyFiles = await writeSshKeyFiles(dir, keys);
      const seedFile = join(dir, 'seed.iso');
      await createNoCloudSeed(
        {
          path: seedFile,
          instanceId: name,
          hostname,
          authorizedKeys: [keys.publicKey],
          loginUser: sshUser,
          userData: parsed.userData,
          signal: bounded,
        },
        this.options.runCommand,
      );
      const volume = (suffix: string) => {
        const volumeName = `${name}-${suffix}`;
        parts.volumes.unshift(volumeName);
        return volumeName;
      };
      undo.push(() => this.#removeVolumes(parts.volumes));
      const seed = await pool.uploadFile(
        volume('seed.iso'),
        seedFile,
        (await stat(seedFile)).size,
        bounded,
      );
      await rm(seedFile, { force: true });
      const capacity =
        parsed.diskGiB !== undefined
          ? parsed.diskGiB * 1024 ** 3
          : await virtualSizeOf(image.base, { run: this.options.runCommand });
      const disk = await pool.createOverlay(
        volume('disk-0.qcow2'),
        base ?? '',
        image.format ?? 'qcow2',
        capacity,
        bounded,
      );
      const serialLog = await pool.createEmpty(volume('serial.log'), bounded);
      await writeFile(join(dir, 'serial.log'), '');
      const macs = parsed.networks.map(() => freshMac());
      const guestNetwork: GuestNetwork = {
        addresses: macs.flatMap((mac, index) => {
          const address = parsed.networks[index]?.address;
          return address === undefined ? [] : [{ mac, address }];
        }),
        hosts: parsed.hosts ?? {},
      };
      const asked = parsed.ports ?? [];
      if (asked.some((p) => p.host !== undefined)) {
        throw new InvalidSpecError(
          [{ path: 'ports', message: 'a fixed host port cannot be kept on a remote host' }],
          { fix: 'Leave out `host`: the guest port is reached on a free port of 127.0.0.1 here.' },
        );
      }
      const { sshPort, forwards } = await createDomain({
        virsh,
        name,
        xmlPath: join(dir, 'domain.xml'),
        ports: asked,
        // The host's free ports are not known from here: draw one, and again on a clash.
        choosePort: hostPort,
        undo,
        signal: bounded,
        xmlFor: ({ sshPort, forwards }) =>
          buildDomainXml({
            name,
            macs,
            accelerator,
            memoryMiB,
            vcpus: parsed.vcpus,
            kernel,
            initrd,
            cmdline: parsed.cmdline ?? image.cmdline,
            disk,
            seed,
            serialLog,
            sshHostPort: sshPort,
            sshGuestPort: config.sshPort,
            forwards,
            outbound: parsed.outbound,
            networks: parsed.networks.map((n) => n.network.name),
            metadata: {
              runId: run.runId,
              owner: run.owner,
              createdAt: Date.now(),
              paths: { dir, disk, seed, serialLog, privateKey: keyFiles.privateKeyPath },
            },
          }),
      });
      undo.push(() => Promise.all(parts.forwards.map((f) => f.close())));
      const sshForward = await this.options.link.forward(sshPort);
      parts.forwards.push(sshForward);
      const ports: Record<string, number> = {};
      for (const f of forwards) {
        const tunnel = await this.options.link.forward(f.host);
        parts.forwards.push(tunnel);
        ports[String(f.guest)] = tunnel.port;
      }
      const state: LibvirtMachineState = {
        name,
        hostname,
        dir,
        disk,
        dependencies: [],
        boot: { kernel, initrd, cmdline: parsed.cmdline ?? image.cmdline },
        publicKey: keys.publicKey,
        memoryMiB,
        vcpus: parsed.vcpus,
        networks: parsed.networks.map((n) => n.network.name),
        guestNetwork,
        serialLog: join(dir, 'serial.log'),
        ports,
        outbound: parsed.outbound,
        readiness: imageReadiness(parsed, image),
        ssh: {
          host: '127.0.0.1',
          port: sshForward.port,
          username: sshUser,
          privateKeyPath: keyFiles.privateKeyPath,
          privateKey: keys.privateKey,
        },
      };
      machine = this.#machine(state, parts);
      this.#parts.set(name, parts);
      const left = () => Math.max(1, parsed.timeoutMs - (Date.now() - started));
      if (state.readiness.readyPattern !== null) {
        await machine.console.waitFor(state.readiness.readyPattern, {
          timeoutMs: left(),
          signal: bounded,
        });
      }
      await waitForSsh(machine.ssh, { timeoutMs: left(), signal: bounded });
      if (state.readiness.cloudInit) await waitForCloudInit(machine, left(), bounded);
      await slot.release();
      await configureGuestNetwork(machine, bounded);
      await applyFileSpecs(machine, parsed.files ?? [], bounded);
      if (parsed.waitFor && parsed.waitFor.length > 0) {
        await machine.waitUntil(parsed.waitFor, {
          ...(signal ? { signal } : {}),
          timeoutMs: left(),
        });
      }
      return machine;
    } catch (error) {
      await slot?.release();
      this.#parts.delete(name);
      const explained = await this.#explain(error, name, machine, {
        signal,
        deadline,
        timeoutMs: parsed.timeoutMs,
      });
      const kept =
        machine && !(explained instanceof AbortedError)
          ? await keepFailedLog(join(dir, 'serial.log'), this.#runDir)
          : undefined;
      for (const step of undo.reverse()) await step().catch(() => undefined);
      if (kept && explained instanceof Error) {
        explained.message += `\n  Serial log: ${kept} (kept until the run ends)`;
      }
      throw explained;
    }
  }

  /** A handle to a machine another process provisioned on this host; its ports are that process's tunnels. */
  async attach(descriptor: MachineDescriptor): Promise<Machine> {
    if (descriptor.providerId !== this.options.providerId) {
      throw new UnsupportedOperationError(
        `attaching a '${descriptor.providerId}' machine`,
        this.options.providerId,
      );
    }
    const state = structuredClone(descriptor.data) as unknown as LibvirtMachineState;
    // This process's own copy of the console: the provisioning process keeps the other.
    const copy = join(this.#runDir, `${state.name}.attached-${process.pid}-serial.log`);
    const mirror = new VolumeLogMirror(this.options.pool, `${state.name}-serial.log`, copy);
    return new LibvirtMachine({ ...state, serialLog: copy }, undefined, {
      providerId: this.options.providerId,
      refreshConsole: () => mirror.sync(),
    });
  }

  /** An isolated network on the host (no NAT, no host address, no DHCP) for VMs of this host only. */
  createNetwork(options: NetworkOptions = {}): Promise<MachineNetwork> {
    const { virsh, run, providerId } = this.options;
    return createLibvirtNetwork(
      { virsh, run, runDir: this.#runDir, providerId, shareable: false },
      options,
    );
  }

  /** Not offered on a remote host (no `CloneVm`): its disk layers are not files testbed can reach. */
  clone(): Promise<Machine> {
    return Promise.reject(this.#noLayers('clone()'));
  }

  /** Not offered on a remote host (no `Snapshot`). */
  snapshot(): Promise<MachineSnapshot> {
    return Promise.reject(this.#noLayers('snapshot()'));
  }

  /**
   * Stops the domain, closes its tunnels, deletes its volumes; the local copy of its console goes
   * unless kept. The local files go even when the host does not answer: what is left there is
   * found by its run's name and removed by the watchdog, `testbed gc` or the next run's sweep.
   */
  async destroy(machine: LibvirtMachine, keepArtifacts: boolean): Promise<void> {
    const parts = this.#parts.get(machine.name);
    this.#parts.delete(machine.name);
    await Promise.all((parts?.forwards ?? []).map((f) => f.close()));
    try {
      await teardownDomain(this.options.virsh, machine.name);
      await this.#removeVolumes(
        parts?.volumes ??
          ['serial.log', 'disk-0.qcow2', 'seed.iso'].map((s) => `${machine.name}-${s}`),
      );
      if (keepArtifacts) await parts?.mirror.sync();
    } finally {
      if (!keepArtifacts) await rm(machine.state.dir, { recursive: true, force: true });
    }
  }

  #machine(state: LibvirtMachineState, parts: RemoteParts): LibvirtMachine {
    return new LibvirtMachine(state, this, {
      providerId: this.options.providerId,
      refreshConsole: () => parts.mirror.sync(),
    });
  }

  async #removeVolumes(names: readonly string[]): Promise<void> {
    for (const name of names) await this.options.pool.delete(name);
  }

  #noLayers(operation: string): UnsupportedOperationError {
    return new UnsupportedOperationError(operation, this.options.providerId, {
      fix: "Ask for 'CloneVm' or 'Snapshot' in the test's needs: such machines are placed on the local host.",
    });
  }

  async #resolveImage(nameOrPath: string, signal: AbortSignal): Promise<VmImage> {
    try {
      return await this.options.resolveImage(nameOrPath, signal);
    } catch (error) {
      if (error instanceof TestbedError) throw error;
      throw new ImageNotFoundError(nameOrPath, {
        cause: error,
        fix: 'Build it with `npx testbed images build`, or pass the path of an existing qcow2 file.',
      });
    }
  }

  async #upload(
    kind: 'base' | 'kernel' | 'initrd',
    localPath: string | undefined,
    signal: AbortSignal,
  ): Promise<string | undefined> {
    if (!localPath) return undefined;
    const { sha256, sizeBytes } = await contentHash(localPath);
    return this.options.pool.upload(kind, localPath, sizeBytes, sha256, signal);
  }

  async #explain(
    error: unknown,
    name: string,
    machine: LibvirtMachine | undefined,
    bound: { signal: AbortSignal | undefined; deadline: AbortSignal; timeoutMs: number },
  ): Promise<unknown> {
    if (bound.signal?.aborted && !(bound.signal.reason instanceof TimeoutError)) {
      return new AbortedError(`Provisioning ${name}`, bound.signal.reason);
    }
    let explained = error;
    if (bound.deadline.aborted && !(error instanceof TimeoutError)) {
      explained = new TimeoutError(
        `Provisioning ${name} on ${this.options.providerId}`,
        bound.timeoutMs,
        {
          cause: error,
          fix: 'Raise timeoutMs, or read the console lines below for why the guest is slow.',
        },
      );
    }
    if (explained instanceof TimeoutError && machine) {
      const tail = await machine.console.tail(20).catch(() => '');
      if (!explained.message.includes('Last console lines')) {
        explained.message += `\n  Last console lines of ${name}:\n    ${tail.split('\n').join('\n    ')}`;
      }
    }
    if (explained instanceof TestbedError) return explained;
    return new ProvisionError(
      `Provisioning ${name} on ${this.options.providerId} failed: ${describeError(error)}`,
      {
        cause: error,
        fix: `Run \`npx testbed doctor\` to check ${this.options.providerId}; everything created for the machine was removed.`,
      },
    );
  }
}
