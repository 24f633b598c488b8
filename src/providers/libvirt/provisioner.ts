import { access, mkdir, rm } from 'node:fs/promises';
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
  WaitTimeoutError,
} from '../../core/errors.js';
import { withCheckedRestore } from '../../core/option-schemas.js';
import type {
  CloneOptions,
  FileSpec,
  Machine,
  MachineDescriptor,
  MachineNetwork,
  MachineSnapshot,
  MachineSpec,
  NetworkOptions,
  PrepareSpec,
  RestoreOptions,
  SnapshotOptions,
  VmProvisioner,
  WaitStrategy,
  WarmTemplateOptions,
} from '../../core/provider.js';
import type { RunCommand } from '../../core/run-command.js';
import { type RunContext, shortId } from '../../core/run-context.js';
import type { ForwardedPort } from '../../core/spec-schemas.js';
import { applyFileSpecs } from '../../files/apply-file-specs.js';
import { runPrepareSteps } from '../../files/prepare-steps.js';
import type { UserData } from '../../images/cloud-user-data.js';
import { createNoCloudSeed } from '../../images/nocloud-seed.js';
import { generateSshKeyPair, type SshKeyPair } from '../../ssh/generate-ssh-key-pair.js';
import { waitForSsh } from '../../ssh/wait-for-ssh.js';
import { writeSshKeyFiles } from '../../ssh/write-ssh-key-files.js';
import type { Accelerator, AcceleratorChoice } from './accelerator-probe.js';
import { BootSlots, bootCapacity, hostCapacityInput } from './boot-slots.js';
import { waitForCloudInit } from './cloud-init-wait.js';
import { createDomain } from './create-domain.js';
import { DirectoryLeases } from './directory-leases.js';
import { buildDomainXml } from './domain-xml.js';
import { keepFailedLog } from './failed-log.js';
import { findFreePort } from './free-port.js';
import { configureGuestNetwork, freshMac } from './guest-network.js';
import { imageReadiness } from './image-readiness.js';
import { writeKeptMarker } from './kept-marker.js';
import {
  type GuestNetwork,
  LibvirtMachine,
  type LibvirtMachineState,
  type MachineLifecycle,
} from './libvirt-machine.js';
import { createLibvirtNetwork } from './libvirt-network.js';
import { LibvirtPowerControl } from './power-control.js';
import { createOverlay, hasBootSector, virtualSizeOf } from './qemu-img.js';
import { createReadableFile } from './readable-file.js';
import { ensureRunDirectory } from './run-directory.js';
import { StoredTemplates } from './stored-templates.js';
import { teardownDomain } from './teardown.js';
import type { Virsh } from './virsh.js';
import type { VmImage, VmImageResolver } from './vm-image.js';
import { parseVmSpec } from './vm-spec.js';
import { WarmSnapshots } from './warm-snapshots.js';

/** What the provisioner works with. */
export interface LibvirtProvisionerOptions {
  /** testbed configuration (state dir, SSH port). */
  config: TestbedConfig;
  /** The run that owns everything created. */
  run: RunContext;
  /** virsh bound to the configured URI. */
  virsh: Virsh;
  /** Runs qemu-img and xorriso. */
  runCommand: RunCommand;
  /** Resolves image names and paths. */
  resolveImage: VmImageResolver;
  /** The accelerator to use, probed with the kernel about to boot. */
  accelerator: (kernel: string | undefined, signal?: AbortSignal) => Promise<AcceleratorChoice>;
  /** Chooses the loopback port forwarded to the guest's SSH. Default: a free one. */
  choosePort?: () => Promise<number>;
}

/** Everything one boot needs, whether from a base image (provision) or a frozen layer (clone). */
interface BootPlan {
  nameHint?: string | undefined;
  hostname?: string | undefined;
  backing: string;
  backingFormat?: 'qcow2' | 'raw' | undefined;
  boot: LibvirtMachineState['boot'];
  memoryMiB: number;
  vcpus: number;
  networks: readonly string[];
  /** Static address of each network's NIC, by index (provision only). */
  addresses?: readonly (string | undefined)[];
  /** Extra `/etc/hosts` lines (provision only). */
  hosts?: Readonly<Record<string, string>> | undefined;
  sshUser: string;
  keyPair?: SshKeyPair | undefined;
  dependencies: string[];
  /** Console line that means ready; null waits for SSH only. */
  readyPattern: string | RegExp | null;
  /** Wait for `cloud-init status --wait` after SSH. */
  waitForCloudInit: boolean;
  /** The user's cloud-init user-data (provision only). */
  userData?: UserData | undefined;
  /** Guest ports to forward; clones forward the same guest ports on new host ports. */
  ports: readonly ForwardedPort[];
  /** Run once SSH answers, before `files` (provision only; a stored template caches the result). */
  prepare?: PrepareSpec | undefined;
  /** Put in place once SSH answers (provision only). */
  files: readonly FileSpec[];
  /** Must hold before the machine is handed out (provision only). */
  waitFor: readonly WaitStrategy[];
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Disk size of a new overlay (provision only; clones keep their source's). */
  diskGiB?: number | undefined;
  /** Guest may open outbound connections. */
  outbound: boolean;
  /** Part of `timeoutMs` already spent before the boot (resolving the image). */
  spentMs: number;
}

/** libvirt's words when the QEMU user cannot open an image (or a file backing it). */
const QEMU_CANNOT_READ =
  /Cannot access (?:backing |storage )?file '([^']+)'.*\((as uid:\d+, gid:\d+)\): Permission denied/s;
const CLONE_TIMEOUT_MS = 180_000;
/** Bound on waiting for a boot slot when the caller gives no signal. */
const QUEUE_TIMEOUT_MS = 600_000;

/** The clone/restore boot bound: a positive whole number of ms, default 180 s. */
function checkCloneTimeout(timeoutMs: number | undefined): number {
  if (timeoutMs === undefined) return CLONE_TIMEOUT_MS;
  if (Number.isInteger(timeoutMs) && timeoutMs > 0) return timeoutMs;
  throw new InvalidSpecError(
    [{ path: 'timeoutMs', message: `must be a positive whole number of ms (got ${timeoutMs})` }],
    { fix: 'Pass clone({ timeoutMs: 300_000 }) or leave it out for 180 s.' },
  );
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Provisions libvirt VMs for one run: overlays, seeds, keys and logs under `<stateDir>/<runId>/`. */
export class LibvirtProvisioner implements VmProvisioner, MachineLifecycle {
  readonly #leases = new DirectoryLeases();
  readonly #runDir: string;
  readonly #slots: BootSlots;
  readonly #bootable = new Set<string>();
  readonly #warm: WarmSnapshots;
  readonly #stored: StoredTemplates;
  /** Pause, resume, reboot, crash and start of this provisioner's machines. */
  readonly power: LibvirtPowerControl;

  constructor(private readonly options: LibvirtProvisionerOptions) {
    this.power = new LibvirtPowerControl(options.virsh);
    this.#runDir = join(options.config.stateDir, options.run.runId);
    this.#slots = new BootSlots(join(options.config.stateDir, '.boot-queue'));
    this.#warm = new WarmSnapshots({
      config: options.config,
      run: options.run,
      virsh: options.virsh,
      runCommand: options.runCommand,
      runDir: this.#runDir,
      leases: this.#leases,
      lifecycle: this,
      choosePort: options.choosePort ?? findFreePort,
    });
    this.#stored = new StoredTemplates({
      config: options.config,
      runDir: this.#runDir,
      virsh: options.virsh,
      warm: this.#warm,
      provision: (spec) => this.provision(spec),
      resolveImage: (nameOrPath) => this.#resolveImage(nameOrPath),
      accelerator: (kernel) => options.accelerator(kernel),
    });
  }

  /** A warm template from the host's template store (see `StoredTemplates`), made there if missing. */
  async warmTemplate(
    spec: MachineSpec,
    options: WarmTemplateOptions = {},
  ): Promise<MachineSnapshot> {
    const stored = await this.#stored.get(spec, options);
    if (stored) return withCheckedRestore(stored);
    // Values only identity tells apart cannot key a stored template: one of this process's own.
    const machine = (await this.provision({ ...spec, name: 'template' })) as LibvirtMachine;
    try {
      return withCheckedRestore(await this.#warm.take(machine, {}));
    } finally {
      await machine.destroy().catch(() => {});
    }
  }

  /** Standbys of the templates this project used last (see `StoredTemplates.prewarm`). */
  prewarm(): Promise<void> {
    return this.#stored.prewarm();
  }

  /** Destroys the run's standbys not leased, whichever process made them. */
  releaseStandbys(): Promise<void> {
    return this.#stored.releaseStandbys();
  }

  /** Creates a VM from `spec` and resolves once SSH answers; on any failure nothing is left. */
  async provision(spec: MachineSpec = {}): Promise<Machine> {
    const parsed = parseVmSpec(spec);
    if (parsed.signal?.aborted) throw new AbortedError('Provisioning', parsed.signal.reason);
    const resolveStarted = Date.now();
    const deadline = AbortSignal.timeout(parsed.timeoutMs);
    const image = await this.#resolveImage(
      parsed.image,
      parsed.signal ? AbortSignal.any([parsed.signal, deadline]) : deadline,
    ).catch((error: unknown) => {
      if (deadline.aborted && !parsed.signal?.aborted) {
        throw new TimeoutError(`Resolving image '${parsed.image}'`, parsed.timeoutMs, {
          cause: error,
          fix: 'Build the image beforehand (`npx testbed images build`) or raise timeoutMs.',
        });
      }
      if (parsed.signal?.aborted) {
        throw new AbortedError(`Resolving image '${parsed.image}'`, parsed.signal.reason);
      }
      throw error;
    });
    if (parsed.diskGiB !== undefined) await this.#checkDiskSize(image.base, parsed.diskGiB);
    if (!(parsed.kernel ?? image.kernel)) await this.#checkBootable(parsed.image, image);
    const readiness = imageReadiness(parsed, image);
    return this.#boot({
      spentMs: Date.now() - resolveStarted,
      nameHint: parsed.name,
      hostname: parsed.hostname,
      backing: image.base,
      backingFormat: image.format,
      boot: {
        kernel: parsed.kernel ?? image.kernel,
        initrd: parsed.initrd ?? image.initrd,
        cmdline: parsed.cmdline ?? image.cmdline,
      },
      memoryMiB: parsed.memoryMiB,
      vcpus: parsed.vcpus,
      networks: parsed.networks.map((n) => n.network.name),
      addresses: parsed.networks.map((n) => n.address),
      hosts: parsed.hosts,
      // A plain qcow2 has no metadata: log in as root, which testbed's seed opens (disable_root: false).
      sshUser: parsed.sshUser ?? image.sshUser ?? 'root',
      userData: parsed.userData,
      waitForCloudInit: readiness.cloudInit,
      dependencies: [],
      readyPattern: readiness.readyPattern,
      ports: parsed.ports ?? [],
      diskGiB: parsed.diskGiB,
      outbound: parsed.outbound,
      prepare: parsed.prepare,
      files: parsed.files ?? [],
      waitFor: parsed.waitFor ?? [],
      timeoutMs: parsed.timeoutMs,
      signal: parsed.signal,
    });
  }

  /** A handle to a machine another process provisioned; its `destroy()` leaves the machine alone. */
  async attach(descriptor: MachineDescriptor): Promise<Machine> {
    if (descriptor.providerId !== 'libvirt') {
      throw new UnsupportedOperationError(
        `attaching a '${descriptor.providerId}' machine`,
        'libvirt',
      );
    }
    return new LibvirtMachine(
      structuredClone(descriptor.data) as unknown as LibvirtMachineState,
      undefined,
    );
  }

  /** An isolated network (no NAT, no host address, no DHCP) that VMs join via `spec.networks`. */
  createNetwork(options: NetworkOptions = {}): Promise<MachineNetwork> {
    const { virsh, run } = this.options;
    return createLibvirtNetwork(
      { virsh, run, runDir: this.#runDir, providerId: 'libvirt' },
      options,
    );
  }

  /** Boots a clone on an overlay of the source's disk as it is now. */
  async clone(source: LibvirtMachine, options: CloneOptions = {}): Promise<Machine> {
    const hint = options.name ? parseVmSpec({ name: options.name }).name : undefined;
    const frozen = await this.#freeze(source, options.signal);
    return this.#bootFrom(source, frozen, { ...options, name: hint });
  }

  /** Boots a new machine like `source` (size, boot files, key) on an overlay of `frozen`. */
  #bootFrom(source: LibvirtMachine, frozen: string, options: RestoreOptions): Promise<Machine> {
    const timeoutMs = checkCloneTimeout(options.timeoutMs);
    const asked = parseVmSpec({
      ...(options.hostname === undefined ? {} : { hostname: options.hostname }),
      ...(options.networks === undefined ? {} : { networks: options.networks }),
    });
    return this.#boot({
      nameHint: options.name,
      hostname: asked.hostname,
      backing: frozen,
      boot: source.state.boot,
      memoryMiB: source.state.memoryMiB,
      vcpus: source.state.vcpus,
      networks: options.networks
        ? asked.networks.map((n) => n.network.name)
        : source.state.networks,
      sshUser: source.state.ssh.username,
      keyPair: { privateKey: source.state.ssh.privateKey, publicKey: source.state.publicKey },
      dependencies: [source.state.dir, ...source.state.dependencies],
      // The clone waits for what its source waited for, never the tiny image's line by default.
      readyPattern: source.state.readiness.readyPattern,
      waitForCloudInit: source.state.readiness.cloudInit,
      // A fixed host port is the source's: the clone forwards the same guest ports on free ones.
      ports: Object.keys(source.state.ports).map((guest) => ({ guest: Number(guest) })),
      outbound: source.state.outbound,
      files: [],
      waitFor: [],
      timeoutMs,
      spentMs: 0,
      signal: options.signal,
    });
  }

  /**
   * Freezes the source's disk; the snapshot boots new machines from it until destroyed. With
   * `memory`, a warm snapshot: restores continue from the saved running state instead.
   */
  async snapshot(source: LibvirtMachine, options: SnapshotOptions = {}): Promise<MachineSnapshot> {
    if (options.memory) return this.#warm.take(source, options);
    const frozen = await this.#freeze(source, options.signal);
    const dependencies = [source.state.dir, ...source.state.dependencies];
    this.#leases.acquire(dependencies);
    let released: Promise<void> | undefined;
    return {
      id: frozen,
      restore: (options: RestoreOptions = {}) => this.#bootFrom(source, frozen, options),
      destroy: () => {
        released ??= this.#leases.release(dependencies);
        return released;
      },
    };
  }

  /** Stops the domain, then removes its files unless kept or still backing a clone. */
  async destroy(machine: LibvirtMachine, keepArtifacts: boolean): Promise<void> {
    await teardownDomain(this.options.virsh, machine.name);
    const keep = keepArtifacts ? new Set([machine.state.dir]) : new Set<string>();
    // The marker keeps the run's directory from sweeps until `testbed gc --kept`.
    if (keepArtifacts) await writeKeptMarker(machine.state.dir, machine.name);
    await this.#leases.release([machine.state.dir, ...machine.state.dependencies], keep);
  }

  /** A disk booted by its own loader must have a boot sector, or the guest only ever says "No bootable device". */
  async #checkBootable(name: string, image: VmImage): Promise<void> {
    // Base images are never written: one check per base is enough for the run.
    if (this.#bootable.has(image.base)) return;
    await ensureRunDirectory(this.#runDir, this.options.run);
    const format = image.format ?? 'qcow2';
    if (await hasBootSector(image.base, format, this.#runDir, { run: this.options.runCommand })) {
      this.#bootable.add(image.base);
      return;
    }
    throw new ImageNotFoundError(name, {
      fix: `${image.base} (${format}) has no boot sector, so it cannot boot from its own disk. Use a bootable disk image (a cloud image's qcow2), or boot a kernel directly with kernel/initrd in the spec.`,
    });
  }

  /** A disk smaller than its image would cut the filesystem off: refuse it. */
  async #checkDiskSize(base: string, diskGiB: number): Promise<void> {
    const bytes = await virtualSizeOf(base, { run: this.options.runCommand });
    if (diskGiB * 1024 ** 3 >= bytes) return;
    const imageGiB = Math.ceil((bytes / 1024 ** 3) * 10) / 10;
    throw new InvalidSpecError(
      [
        {
          path: 'diskGiB',
          message: `${diskGiB} GiB is smaller than the image's disk (${imageGiB} GiB)`,
        },
      ],
      { fix: `Leave diskGiB out, or give at least ${Math.ceil(bytes / 1024 ** 3)}.` },
    );
  }

  async #resolveImage(nameOrPath: string, signal?: AbortSignal) {
    try {
      const image = await this.options.resolveImage(nameOrPath, signal);
      await access(image.base);
      return image;
    } catch (error) {
      if (error instanceof TestbedError) throw error;
      throw new ImageNotFoundError(nameOrPath, {
        cause: error,
        fix: 'Build it with `npx testbed images build`, or pass the path of an existing qcow2 file.',
      });
    }
  }

  /** Makes the source's current disk a read-only layer: flushes the guest, then an external snapshot. */
  async #freeze(source: LibvirtMachine, signal?: AbortSignal): Promise<string> {
    // The guest's page cache is not on disk yet: without this, files just written are missing.
    await source.exec('sync', { timeoutMs: 30_000, ...(signal ? { signal } : {}) });
    const frozen = source.state.disk;
    const next = join(source.state.dir, `disk-${shortId(6)}.qcow2`);
    await this.options.virsh.call(
      [
        'snapshot-create-as',
        source.name,
        '--disk-only',
        '--atomic',
        '--no-metadata',
        '--diskspec',
        `vda,snapshot=external,file=${next}`,
      ],
      { timeoutMs: 60_000, ...(signal ? { signal } : {}) },
    );
    source.state.disk = next;
    return frozen;
  }

  async #boot(plan: BootPlan): Promise<LibvirtMachine> {
    const { config, run, virsh, runCommand } = this.options;
    const id = shortId(6);
    const name = `testbed-${run.runId}-${plan.nameHint ? `${plan.nameHint}-` : ''}${id}`;
    const hostname = plan.hostname ?? `tb-${id}`;
    const dir = join(this.#runDir, name);
    const { accelerator } = await this.options.accelerator(plan.boot.kernel, plan.signal);
    // Queued before the deadline starts: waiting for a slot is not the guest being slow.
    const slot = await this.#slots
      .acquire(name, this.#capacity(plan, accelerator), {
        signal: plan.signal,
        queueTimeoutMs: QUEUE_TIMEOUT_MS,
      })
      .catch((error: unknown) => {
        // Aborted while queued is the same to the caller as aborted while booting.
        if (plan.signal?.aborted && !(plan.signal.reason instanceof TimeoutError)) {
          throw new AbortedError(`Provisioning ${name}`, plan.signal.reason);
        }
        throw error;
      });
    const started = Date.now();
    const bootMs = Math.max(1, plan.timeoutMs - plan.spentMs);
    const deadline = AbortSignal.timeout(bootMs);
    // Every step sees both the caller's signal and the deadline, so a slow step aborts and is undone.
    const signal = plan.signal ? AbortSignal.any([plan.signal, deadline]) : deadline;
    const withSignal = signal ? { signal } : {};
    const undo: (() => Promise<unknown>)[] = [];
    let machine: LibvirtMachine | undefined;
    try {
      await ensureRunDirectory(this.#runDir, run);
      undo.push(() => rm(dir, { recursive: true, force: true }));
      // libvirt's QEMU user must traverse it to reach the overlay, seed and log.
      await mkdir(dir, { mode: 0o755 });
      const keys = plan.keyPair ?? generateSshKeyPair(`testbed@${name}`);
      const keyFiles = await writeSshKeyFiles(dir, keys);
      const seed = join(dir, 'seed.iso');
      await createNoCloudSeed(
        {
          path: seed,
          instanceId: name,
          hostname,
          authorizedKeys: [keys.publicKey],
          loginUser: plan.sshUser,
          userData: plan.userData,
          ...withSignal,
        },
        runCommand,
      );
      const disk = join(dir, 'disk-0.qcow2');
      await createOverlay(plan.backing, disk, {
        run: runCommand,
        format: plan.backingFormat ?? 'qcow2',
        sizeGiB: plan.diskGiB,
        ...withSignal,
      });
      signal.throwIfAborted();
      const serialLog = join(dir, 'serial.log');
      await createReadableFile(serialLog);
      const xmlPath = join(dir, 'domain.xml');
      const macs = plan.networks.map(() => freshMac());
      const guestNetwork: GuestNetwork = {
        addresses: macs.flatMap((mac, index) => {
          const address = plan.addresses?.[index];
          return address === undefined ? [] : [{ mac, address }];
        }),
        hosts: plan.hosts ?? {},
      };
      const { sshPort, forwards } = await createDomain({
        virsh,
        name,
        xmlPath,
        ports: plan.ports,
        choosePort: this.options.choosePort ?? findFreePort,
        undo,
        signal,
        xmlFor: ({ sshPort, forwards }) =>
          buildDomainXml({
            name,
            macs,
            accelerator,
            memoryMiB: plan.memoryMiB,
            vcpus: plan.vcpus,
            ...plan.boot,
            disk,
            seed,
            serialLog,
            sshHostPort: sshPort,
            sshGuestPort: config.sshPort,
            forwards,
            outbound: plan.outbound,
            networks: plan.networks,
            metadata: {
              runId: run.runId,
              owner: run.owner,
              createdAt: Date.now(),
              paths: { dir, disk, seed, serialLog, privateKey: keyFiles.privateKeyPath },
            },
          }),
      });
      const state: LibvirtMachineState = {
        name,
        hostname,
        dir,
        disk,
        dependencies: plan.dependencies,
        boot: plan.boot,
        publicKey: keys.publicKey,
        memoryMiB: plan.memoryMiB,
        vcpus: plan.vcpus,
        networks: plan.networks,
        guestNetwork,
        serialLog,
        ports: Object.fromEntries(forwards.map((f) => [String(f.guest), f.host])),
        outbound: plan.outbound,
        readiness: { readyPattern: plan.readyPattern, cloudInit: plan.waitForCloudInit },
        ssh: {
          host: '127.0.0.1',
          port: sshPort,
          username: plan.sshUser,
          privateKeyPath: keyFiles.privateKeyPath,
          privateKey: keys.privateKey,
        },
      };
      machine = new LibvirtMachine(state, this);
      await this.#waitUntilReady(machine, plan, bootMs - (Date.now() - started), signal);
      await slot.release();
      await configureGuestNetwork(machine, signal);
      if (plan.prepare) await runPrepareSteps(machine, plan.prepare, signal);
      await applyFileSpecs(machine, plan.files, signal);
      if (plan.waitFor.length > 0) {
        // Not the deadline's signal: the wait's own timeout fires with what it waited for.
        await machine.waitUntil(plan.waitFor, {
          ...(plan.signal ? { signal: plan.signal } : {}),
          timeoutMs: Math.max(1, bootMs - (Date.now() - started)),
        });
      }
      this.#leases.acquire([dir, ...plan.dependencies]);
      return machine;
    } catch (error) {
      await slot.release();
      // Explained first: the console tail is read before undoing removes the machine's files.
      const explained = await this.#explain(error, name, machine, plan, {
        deadline,
        bootMs,
        queuedMs: slot.waitedMs,
      });
      // The error names the serial log: it moves aside and stays until the run is removed.
      const aborted = explained instanceof AbortedError;
      const kept =
        machine && !aborted
          ? await keepFailedLog(machine.state.serialLog, this.#runDir)
          : undefined;
      for (const step of undo.reverse()) await step().catch(() => undefined);
      if (kept && explained instanceof Error) {
        explained.message += `\n  Serial log: ${kept} (kept until the run ends)`;
      }
      throw explained;
    }
  }

  async #waitUntilReady(
    machine: LibvirtMachine,
    plan: BootPlan,
    budgetMs: number,
    signal: AbortSignal,
  ): Promise<void> {
    const started = Date.now();
    const left = () => Math.max(1, budgetMs - (Date.now() - started));
    const withSignal = { signal };
    if (plan.readyPattern !== null) {
      await machine.console.waitFor(plan.readyPattern, { timeoutMs: left(), ...withSignal });
    }
    await waitForSsh(machine.ssh, { timeoutMs: left(), ...withSignal });
    if (plan.waitForCloudInit) await waitForCloudInit(machine, left(), signal);
  }

  #capacity(plan: BootPlan, accelerator: Accelerator): number {
    return (
      this.options.config.maxBoots ??
      bootCapacity({
        ...hostCapacityInput(),
        memoryMiB: plan.memoryMiB,
        vcpus: plan.vcpus,
        accelerator,
      })
    );
  }

  async #explain(
    error: unknown,
    name: string,
    machine: LibvirtMachine | undefined,
    plan: BootPlan,
    boot: { deadline: AbortSignal; bootMs: number; queuedMs: number },
  ): Promise<unknown> {
    const queued =
      boot.queuedMs >= 1000
        ? ` (after ${Math.round(boot.queuedMs / 1000)} s in the boot queue, not counted)`
        : '';
    if (plan.signal?.aborted) {
      const reason = plan.signal.reason;
      // The harness aborts with its own TimeoutError before the test framework's timeout.
      if (!(reason instanceof TimeoutError))
        return new AbortedError(`Provisioning ${name}`, reason);
      error = reason;
    }
    const timedOut = error instanceof TimeoutError || error instanceof WaitTimeoutError;
    if (boot.deadline.aborted && !timedOut) {
      error = new TimeoutError(`Provisioning ${name}${queued}`, boot.bootMs, {
        cause: error,
        fix: 'Raise timeoutMs, or read the console lines below for why the guest is slow.',
      });
    }
    if (error instanceof TimeoutError && machine && !error.message.includes('Last console lines')) {
      const tail = await machine.console.tail(20).catch(() => '');
      error.message += `\n  Last console lines of ${name}:\n    ${tail.split('\n').join('\n    ')}`;
    }
    const unreadable = QEMU_CANNOT_READ.exec(describeError(error));
    if (unreadable) {
      return new ProvisionError(
        `Provisioning ${name} failed: libvirt's QEMU user (${unreadable[2]}) cannot read ${unreadable[1]}.`,
        {
          cause: error,
          fix: `Make every directory up to ${unreadable[1]} traversable for others (chmod o+x) and the file readable, or move the image somewhere that is (not under /root or a 0700 temporary directory).`,
        },
      );
    }
    if (error instanceof TestbedError) return error;
    return new ProvisionError(`Provisioning ${name} failed: ${describeError(error)}`, {
      cause: error,
      fix: 'Run `npx testbed doctor` to check libvirt; everything created for the machine was removed.',
    });
  }
}
