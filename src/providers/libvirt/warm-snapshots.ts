import { randomBytes } from 'node:crypto';
import {
  access,
  appendFile,
  chmod,
  copyFile,
  mkdir,
  readFile,
  rename,
  rm,
  statfs,
  writeFile,
} from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { TestbedConfig } from '../../core/config.js';
import {
  AbortedError,
  CommandFailedError,
  NoSpaceError,
  ProvisionError,
  SnapshotGoneError,
  TestbedError,
  TimeoutError,
  UnsupportedOperationError,
} from '../../core/errors.js';
import type { MachineSnapshot, RestoreOptions, SnapshotOptions } from '../../core/provider.js';
import type { RunCommand } from '../../core/run-command.js';
import { type RunContext, shortId } from '../../core/run-context.js';
import { writeSshKeyFiles } from '../../ssh/write-ssh-key-files.js';
import type { DirectoryLeases } from './directory-leases.js';
import { userNetdev } from './domain-xml.js';
import { freshIdentityScript } from './guest-identity.js';
import { freshMac } from './guest-network.js';
import {
  LibvirtMachine,
  type LibvirtMachineState,
  type MachineLifecycle,
} from './libvirt-machine.js';
import { stateFromJson, stateToJson } from './machine-state-json.js';
import { createOverlay } from './qemu-img.js';
import { createReadableFile } from './readable-file.js';
import { ensureRunDirectory } from './run-directory.js';
import { feedRetargetedSaveImage, readSaveImage, type SaveImage } from './save-image.js';
import { retargetSavedDomainXml } from './saved-domain-xml.js';
import { teardownDomain } from './teardown.js';
import type { TestbedMetadata } from './testbed-metadata.js';
import type { Virsh } from './virsh.js';
import { parseVmSpec } from './vm-spec.js';

/** What warm snapshots need from the provisioner of their run. */
export interface WarmSnapshotDeps {
  config: TestbedConfig;
  run: RunContext;
  virsh: Virsh;
  runCommand: RunCommand;
  runDir: string;
  leases: DirectoryLeases;
  lifecycle: MachineLifecycle;
  choosePort: () => Promise<number>;
}

const RESTORE_TIMEOUT_MS = 60_000;
/** A stored template's files: memory, the disk it ran on, and its state. */
const SAVE_FILE = 'memory.save';
const TEMPLATE_DISK = 'disk.qcow2';
const STATE_FILE = 'state.json';
const SAVE_TIMEOUT_MS = 120_000;
/** Beyond the guest's memory, room for device state and the header. */
const SAVE_MARGIN_BYTES = 64 * 1024 ** 2;
const PORT_CLASH = /host ?forward|hostfwd|address already in use/i;
const PORT_ATTEMPTS = 5;
/** The template's console up to the save, in the snapshot's directory. */
const CONSOLE_LOG = 'console.log';
/** A guest clock set this late is re-set over the then open connection. */
const CLOCK_SLACK_MS = 500;
/** A fresh connection to a guest that just resumed may be refused for a moment. */
const NOT_YET = /ECONNREFUSED|ECONNRESET|connection closed|Timed out while waiting for handshake/i;

async function checkFreeSpace(dir: string, neededBytes: number, operation: string): Promise<void> {
  const stats = await statfs(dir);
  const freeBytes = stats.bavail * stats.bsize;
  if (freeBytes < neededBytes) throw new NoSpaceError(dir, neededBytes, freeBytes, operation);
}

function metadataOf(state: LibvirtMachineState, run: RunContext, seed: string): TestbedMetadata {
  return {
    runId: run.runId,
    owner: run.owner,
    createdAt: Date.now(),
    paths: {
      dir: state.dir,
      disk: state.disk,
      seed,
      serialLog: state.serialLog,
      privateKey: state.ssh.privateKeyPath,
    },
  };
}

function netdevOf(state: LibvirtMachineState, config: TestbedConfig): string {
  return userNetdev({
    sshHostPort: state.ssh.port,
    sshGuestPort: config.sshPort,
    forwards: Object.entries(state.ports).map(([guest, host]) => ({ guest: Number(guest), host })),
    outbound: state.outbound,
  });
}

/**
 * Puts a machine that continued from saved memory right: its clock (behind by the time since the
 * save), its RNG pool (else every restore draws the same numbers), its machine-id and SSH host
 * key where the image has them, and, if asked, its hostname.
 * Retried while the resumed guest's SSH server is not answering yet; this is also the readiness
 * check, and it leaves the machine's SSH connection open for the test's first command.
 */
export async function settleRestoredGuest(
  machine: LibvirtMachine,
  hostname: string | undefined,
  deadline: number,
  signal: AbortSignal,
  /** False for a machine that has its own already (a snapshot's source, a leased standby). */
  freshIdentity = true,
): Promise<void> {
  for (;;) {
    const now = Date.now();
    const script = [
      `date -u -s @${Math.round(now / 1000)} >/dev/null`,
      `printf %s ${randomBytes(32).toString('hex')} >/dev/urandom`,
      ...(hostname ? [`hostname ${hostname}`, `echo ${hostname} >/etc/hostname`] : []),
      ...(freshIdentity ? freshIdentityScript(hostname ?? machine.state.hostname) : []),
    ].join(' && ');
    try {
      const result = await machine.exec(script, {
        user: 'root',
        signal,
        timeoutMs: Math.max(1, deadline - now),
      });
      if (result.exitCode === 0) {
        // The time sent was taken before connecting; a slow connection made it stale.
        if (Date.now() - now > CLOCK_SLACK_MS) {
          await machine.exec(`date -u -s @${Math.round(Date.now() / 1000)} >/dev/null`, {
            user: 'root',
            signal,
          });
        }
        return;
      }
      throw new CommandFailedError(machine.name, result.exitCode, result.stderr.trim(), {
        fix: 'The restored guest could not set its clock or hostname as root (sudo -n); check the image.',
      });
    } catch (error) {
      const transient = error instanceof CommandFailedError && NOT_YET.test(error.message);
      if (!transient || Date.now() + 200 >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/**
 * Memory snapshots of libvirt machines (`WarmSnapshot`). `virsh save` writes the running guest's
 * memory and devices; the disk it ran on becomes a read-only layer. Every restore is a new
 * domain: its own overlay on that layer, name, ports and log, from a copy of the save image
 * rewritten for it, since libvirt restores one image under its saved name only.
 */
export class WarmSnapshots {
  constructor(private readonly deps: WarmSnapshotDeps) {}

  /** Saves `source` (which then resumes on a new overlay) and returns the snapshot. */
  async take(source: LibvirtMachine, options: SnapshotOptions = {}): Promise<MachineSnapshot> {
    const { virsh, run, runDir, leases } = this.deps;
    const signal = options.signal;
    if (source.state.networks.length > 0) {
      throw new UnsupportedOperationError(
        'a memory snapshot of a machine on isolated networks',
        'libvirt',
        {
          fix: 'Snapshot a machine without `networks` and pass them to `restore({ networks })`: each restore then joins with an address of its own.',
        },
      );
    }
    if (signal?.aborted) throw new AbortedError(`Snapshotting ${source.name}`, signal.reason);
    // The guest's page cache is not on disk yet: restores would miss files just written.
    await source.exec('sync', { timeoutMs: 30_000, ...(signal ? { signal } : {}) });
    const id = `snapshot-${shortId(6)}`;
    const dir = join(runDir, id);
    await ensureRunDirectory(runDir, run);
    await mkdir(dir, { mode: 0o755 });
    const saveFile = join(dir, SAVE_FILE);
    let image: SaveImage;
    try {
      const needed = source.state.memoryMiB * 1024 ** 2 + SAVE_MARGIN_BYTES;
      await checkFreeSpace(dir, needed, `save the memory of ${source.name}`);
      source.session.disconnect();
      // Made by us, so it stays ours: one libvirtd creates on qemu:///system is root's, mode 0600,
      // and a non-root user could not read its own snapshot back.
      await createReadableFile(saveFile);
      await virsh.call(['save', source.name, saveFile, '--running'], {
        timeoutMs: SAVE_TIMEOUT_MS,
        ...(signal ? { signal } : {}),
      });
      image = await readSaveImage(saveFile);
      // The console as it was at the save: every restore's log starts with it (boot, readiness).
      await copyFile(source.state.serialLog, join(dir, CONSOLE_LOG)).catch(() =>
        writeFile(join(dir, CONSOLE_LOG), ''),
      );
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw this.#explain(error, `Snapshotting ${source.name}`, signal);
    }
    const frozen = source.state.disk;
    // Nothing may write the layer every restore reads: not even by mistake.
    await chmod(frozen, 0o444);
    const template: LibvirtMachineState = structuredClone({ ...source.state, disk: frozen });
    await this.#resumeSource(source, saveFile, image);
    const dependencies = [source.state.dir, ...source.state.dependencies];
    leases.acquire(dependencies);
    let gone = false;
    let destroying: Promise<void> | undefined;
    return {
      id,
      warm: true,
      restore: (restoreOptions: RestoreOptions = {}) => {
        if (gone) {
          return Promise.reject(
            new SnapshotGoneError(id, `restore from ${source.name}'s snapshot`),
          );
        }
        return this.#restore(template, saveFile, image, restoreOptions, false);
      },
      destroy: () => {
        gone = true;
        destroying ??= rm(dir, { recursive: true, force: true }).then(() =>
          leases.release(dependencies),
        );
        return destroying;
      },
    };
  }

  /** The source continues as itself, on a new overlay above the layer just frozen. */
  async #resumeSource(source: LibvirtMachine, saveFile: string, image: SaveImage): Promise<void> {
    const next = join(source.state.dir, `disk-${shortId(6)}.qcow2`);
    await createOverlay(source.state.disk, next, { run: this.deps.runCommand });
    source.state.disk = next;
    const resumeFile = join(source.state.dir, 'resume.fifo');
    try {
      await this.#restoreDomain(image, saveFile, resumeFile, {
        state: source.state,
        seed: join(source.state.dir, 'seed.iso'),
        keepUuid: true,
      });
      await settleRestoredGuest(
        source,
        undefined,
        Date.now() + RESTORE_TIMEOUT_MS,
        AbortSignal.timeout(RESTORE_TIMEOUT_MS),
        false,
      );
    } catch (error) {
      throw new ProvisionError(
        `${source.name} was saved but did not resume: ${(error as Error).message}`,
        {
          cause: error,
          fix: 'Restores of the snapshot still work; destroy the source machine and restore a new one.',
        },
      );
    }
  }

  /** Restores a domain from the save image retargeted at `state`, fed through a pipe at `fifo`. */
  async #restoreDomain(
    image: SaveImage,
    saveFile: string,
    fifo: string,
    target: { state: LibvirtMachineState; seed: string; keepUuid: boolean; signal?: AbortSignal },
  ): Promise<void> {
    const { state, seed } = target;
    const xml = retargetSavedDomainXml(image.xml, {
      name: state.name,
      keepUuid: target.keepUuid,
      disk: state.disk,
      serialLog: state.serialLog,
      seed,
      netdev: netdevOf(state, this.deps.config),
      metadata: metadataOf(state, this.deps.run, seed),
    });
    const feed = await feedRetargetedSaveImage(saveFile, fifo, image, xml, this.deps.runCommand);
    try {
      await this.deps.virsh.call(['restore', feed.path], {
        timeoutMs: RESTORE_TIMEOUT_MS,
        ...(target.signal ? { signal: target.signal } : {}),
      });
      await feed.done;
    } finally {
      await feed.close();
    }
  }

  /**
   * Saves `source` into `dir` for the template store and leaves it stopped: the memory, the disk
   * it ran on (moved there, read-only), its seed and console, and its state as `state.json`.
   */
  async saveTemplate(source: LibvirtMachine, dir: string, signal?: AbortSignal): Promise<void> {
    const withSignal = signal ? { signal } : {};
    await source.exec('sync', { timeoutMs: 30_000, ...withSignal });
    const saveFile = join(dir, SAVE_FILE);
    await checkFreeSpace(
      dir,
      source.state.memoryMiB * 1024 ** 2 + SAVE_MARGIN_BYTES,
      `save the memory of ${source.name}`,
    );
    source.session.disconnect();
    await createReadableFile(saveFile);
    try {
      await this.deps.virsh.call(['save', source.name, saveFile, '--running'], {
        timeoutMs: SAVE_TIMEOUT_MS,
        ...withSignal,
      });
    } catch (error) {
      throw this.#explain(error, `Saving ${source.name} as a template`, signal);
    }
    await readSaveImage(saveFile);
    const disk = join(dir, TEMPLATE_DISK);
    // The domain is gone with the save: nothing writes this layer any more, and nothing may.
    await rename(source.state.disk, disk);
    await chmod(disk, 0o444);
    await copyFile(join(source.state.dir, 'seed.iso'), join(dir, 'seed.iso'));
    await copyFile(source.state.serialLog, join(dir, CONSOLE_LOG)).catch(() =>
      writeFile(join(dir, CONSOLE_LOG), ''),
    );
    const { dir: _dir, disk: _disk, serialLog: _log, ...kept } = source.state;
    await writeFile(join(dir, STATE_FILE), stateToJson(kept));
  }

  /** A snapshot restoring from a stored template's directory (see `saveTemplate`); it is never removed. */
  async loadTemplate(dir: string): Promise<MachineSnapshot & { memoryMiB: number }> {
    const saveFile = join(dir, SAVE_FILE);
    const kept = stateFromJson<Omit<LibvirtMachineState, 'dir' | 'disk' | 'serialLog'>>(
      await readFile(join(dir, STATE_FILE), 'utf8'),
    );
    const template: LibvirtMachineState = {
      ...kept,
      dir,
      disk: join(dir, TEMPLATE_DISK),
      serialLog: join(dir, CONSOLE_LOG),
    };
    await access(template.disk);
    const image = await readSaveImage(saveFile);
    return {
      id: basename(dir),
      warm: true,
      memoryMiB: template.memoryMiB,
      restore: (options: RestoreOptions = {}) =>
        this.#restore(template, saveFile, image, options, true),
      destroy: async () => {},
    };
  }

  /** A machine another process restored (a standby it offered), now this process's to use and destroy. */
  adopt(state: LibvirtMachineState): LibvirtMachine {
    this.deps.leases.acquire([state.dir, ...state.dependencies]);
    return new LibvirtMachine(state, this.deps.lifecycle);
  }

  /**
   * A new machine from a saved template. `stored`: the template is in the store, which outlives
   * the run, so its directory is no dependency of the machine (nothing may remove it).
   */
  async #restore(
    template: LibvirtMachineState,
    saveFile: string,
    image: SaveImage,
    options: RestoreOptions,
    stored: boolean,
  ): Promise<LibvirtMachine> {
    const { run, runDir, leases, virsh, choosePort } = this.deps;
    const parsed = parseVmSpec({
      ...(options.name === undefined ? {} : { name: options.name }),
      ...(options.hostname === undefined ? {} : { hostname: options.hostname }),
      ...(options.networks === undefined ? {} : { networks: options.networks }),
    });
    const timeoutMs = options.timeoutMs ?? RESTORE_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    const signals = [AbortSignal.timeout(timeoutMs), ...(options.signal ? [options.signal] : [])];
    const signal = AbortSignal.any(signals);
    const id = shortId(6);
    const name = `testbed-${run.runId}-${parsed.name ? `${parsed.name}-` : ''}${id}`;
    const dir = join(runDir, name);
    const undo: (() => Promise<unknown>)[] = [];
    try {
      if (options.signal?.aborted)
        throw new AbortedError(`Restoring ${name}`, options.signal.reason);
      await ensureRunDirectory(runDir, run);
      undo.push(() => rm(dir, { recursive: true, force: true }));
      await mkdir(dir, { mode: 0o755 });
      // The memory comes through a pipe: only the guest's disk writes take room here.
      await checkFreeSpace(dir, SAVE_MARGIN_BYTES, `restore ${name}`);
      const disk = join(dir, 'disk-0.qcow2');
      const [keys] = await Promise.all([
        writeSshKeyFiles(dir, {
          privateKey: template.ssh.privateKey,
          publicKey: template.publicKey,
        }),
        createOverlay(template.disk, disk, { run: this.deps.runCommand, signal }),
      ]);
      const state: LibvirtMachineState = {
        ...structuredClone(template),
        name,
        // A hostname of its own, as a cold boot or a clone gets.
        hostname: parsed.hostname ?? `tb-${id}`,
        dir,
        disk,
        dependencies: stored ? template.dependencies : [template.dir, ...template.dependencies],
        networks: parsed.networks.map((n) => n.network.name),
        serialLog: join(dir, 'serial.log'),
        ssh: { ...template.ssh, privateKeyPath: keys.privateKeyPath, port: 0 },
        ports: {},
      };
      // Waits for a console line and a failed test's console tail see the template's boot, then
      // where this machine took over.
      await copyFile(join(dirname(saveFile), CONSOLE_LOG), state.serialLog);
      await appendFile(
        state.serialLog,
        `\n[testbed] ${name} continues from ${basename(dirname(saveFile))} here; the lines above are its template's.\n`,
      );
      await chmod(state.serialLog, 0o644);
      for (let attempt = 1; ; attempt++) {
        state.ssh.port = await choosePort();
        state.ports = {};
        for (const guest of Object.keys(template.ports)) state.ports[guest] = await choosePort();
        undo.push(() => teardownDomain(virsh, name));
        try {
          await this.#restoreDomain(image, saveFile, join(dir, 'restore.fifo'), {
            state,
            // The template's seed stays attached: the guest read it at boot, the device needs a file.
            seed: join(template.dir, 'seed.iso'),
            keepUuid: false,
            signal,
          });
          break;
        } catch (error) {
          if (!PORT_CLASH.test(String((error as Error).message)) || attempt >= PORT_ATTEMPTS) {
            throw error;
          }
        }
      }
      // Connecting only once the guest runs: a connection opened while it is still being loaded
      // waits out the guest's TCP retransmissions (seconds).
      const machine = new LibvirtMachine(state, this.deps.lifecycle);
      undo.push(async () => machine.session.close());
      await settleRestoredGuest(machine, state.hostname, deadline, signal);
      await this.#attachNetworks(machine, deadline, signal);
      leases.acquire([dir, ...state.dependencies]);
      return machine;
    } catch (error) {
      for (const step of undo.reverse()) await step().catch(() => undefined);
      throw this.#explain(error, `Restoring ${name}`, options.signal, timeoutMs, signal);
    }
  }

  /**
   * Joins the restored machine to its networks on new NICs, each with a MAC of its own (the saved
   * devices carry the template's), and waits until the guest sees them (eth1, eth2, ...).
   */
  async #attachNetworks(
    machine: LibvirtMachine,
    deadline: number,
    signal: AbortSignal,
  ): Promise<void> {
    const macs: string[] = [];
    for (const network of machine.state.networks) {
      const mac = freshMac();
      macs.push(mac);
      await this.deps.virsh.call(
        [
          'attach-interface',
          machine.name,
          'network',
          network,
          '--model',
          'virtio',
          '--mac',
          mac,
          '--live',
        ],
        { signal, timeoutMs: 30_000 },
      );
    }
    if (macs.length === 0) return;
    const seen = macs.map((mac) => `grep -qx ${mac} /sys/class/net/*/address`).join(' && ');
    while ((await machine.exec(seen, { signal })).exitCode !== 0) {
      if (Date.now() >= deadline) {
        throw new ProvisionError(
          `${machine.name} did not see its NICs on ${machine.state.networks.join(', ')}.`,
          {
            fix: 'The guest kernel needs ACPI PCI hotplug (acpiphp) for networks joined after a warm restore.',
          },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  #explain(
    error: unknown,
    operation: string,
    callerSignal: AbortSignal | undefined,
    timeoutMs?: number,
    signal?: AbortSignal,
  ): unknown {
    if (callerSignal?.aborted) return new AbortedError(operation, callerSignal.reason);
    if (timeoutMs !== undefined && signal?.aborted && !(error instanceof TimeoutError)) {
      return new TimeoutError(operation, timeoutMs, {
        cause: error,
        fix: 'Raise timeoutMs; a warm restore of a small guest takes about a second.',
      });
    }
    if (error instanceof TestbedError) return error;
    return new ProvisionError(`${operation} failed: ${(error as Error).message}`, {
      cause: error,
      fix: 'Run `npx testbed doctor` to check libvirt; everything created for it was removed.',
    });
  }
}
