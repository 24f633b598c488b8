import { constants } from 'node:fs';
import { access, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { create } from 'xmlbuilder2';
import { CommandFailedError } from '../../core/errors.js';
import type { RunContext } from '../../core/run-context.js';
import { shortId } from '../../core/run-context.js';
import { createReadableFile } from './readable-file.js';
import { SerialConsole } from './serial-console.js';
import { teardownDomain } from './teardown.js';
import { appendTestbedMetadata } from './testbed-metadata.js';
import type { Virsh } from './virsh.js';

/** How a guest's CPU is run: hardware virtualization or QEMU's emulator. */
export type Accelerator = 'kvm' | 'tcg';

/** The accelerator to use, and why KVM is not it when it is not. */
export interface AcceleratorChoice {
  /** The accelerator that really works. */
  accelerator: Accelerator;
  /** Why KVM is not used; absent when it is. */
  reason?: string | undefined;
  /** False when KVM could not be tried yet (no guest kernel): the answer is provisional. */
  verified: boolean;
}

/** Where the probe looks and what it may use. */
export interface AcceleratorProbeOptions {
  /** virsh bound to the libvirt URI. */
  virsh: Virsh;
  /** Directory for the cache file and the probe's scratch files. */
  stateDir: string;
  /** Guest kernel to boot under KVM; without it only the cheap checks run. */
  kernel?: string | undefined;
  /** Run stamped on the probe domain so the reaper can remove it if this process dies. */
  run?: RunContext | undefined;
  /** Bound on the KVM boot. Default 6 s. */
  timeoutMs?: number;
  /** Aborts the probe. */
  signal?: AbortSignal | undefined;
  /** The KVM device. */
  kvmDevice?: string;
  /** File whose content changes on every host boot. */
  bootIdPath?: string;
  /** Whether this process may open a path for reading and writing (qemu:///session's QEMU is this user). */
  accessible?: (path: string) => Promise<boolean>;
}

const readWrite = (path: string) =>
  access(path, constants.R_OK | constants.W_OK).then(
    () => true,
    () => false,
  );

const CACHE_FILE = 'accelerator.json';

async function bootId(path: string): Promise<string> {
  return (await readFile(path, 'utf8').catch(() => 'unknown')).trim();
}

function isLocal(uri: string): boolean {
  return !/^[a-z0-9+]+:\/\/[^/]/.test(uri);
}

function isSession(uri: string): boolean {
  return /^[a-z0-9+]+:\/\/\/session\b/.test(uri);
}

async function cheapChecks(options: AcceleratorProbeOptions): Promise<string | undefined> {
  const device = options.kvmDevice ?? '/dev/kvm';
  if (isLocal(options.virsh.uri)) {
    const info = await stat(device).catch(() => undefined);
    if (!info) {
      return `no ${device}: enable virtualization in the firmware and load the kvm module`;
    }
    if (isSession(options.virsh.uri)) {
      // The session daemon runs QEMU as this user: the user's own access is what counts.
      if (!(await (options.accessible ?? readWrite)(device))) {
        return `${device} is not accessible to you, and qemu:///session runs QEMU as you (mode ${(info.mode & 0o777).toString(8)}): run \`sudo usermod -aG kvm ${userInfo().username}\`, then log out and in again`;
      }
    } else if ((info.mode & 0o006) !== 0o006 && (info.mode & 0o060) !== 0o060) {
      return `${device} is not accessible to libvirt's QEMU user (mode ${(info.mode & 0o777).toString(8)}): run \`sh scripts/setup-host.sh\` (group kvm, mode 0660)`;
    }
  }
  try {
    await options.virsh.call(['domcapabilities', '--virttype', 'kvm'], {
      timeoutMs: 10_000,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    // An unreachable daemon says nothing about KVM: let it surface instead of caching an answer.
    if (!(error instanceof CommandFailedError)) throw error;
    return `libvirt cannot use KVM: ${error.stderr.trim() || `exit ${error.exitCode}`}`;
  }
  return undefined;
}

/** The cached answer for this host boot and URI, if a probe already ran. */
export async function cachedAccelerator(
  options: Pick<AcceleratorProbeOptions, 'virsh' | 'stateDir' | 'bootIdPath'>,
): Promise<AcceleratorChoice | undefined> {
  try {
    const cached = JSON.parse(await readFile(join(options.stateDir, CACHE_FILE), 'utf8'));
    const boot = await bootId(options.bootIdPath ?? '/proc/sys/kernel/random/boot_id');
    const entry = cached?.[`${boot} ${options.virsh.uri}`];
    return entry?.accelerator === 'kvm' || entry?.accelerator === 'tcg' ? entry : undefined;
  } catch {
    return undefined;
  }
}

/** Caches `choice` for this host boot and the probe's URI. */
export async function rememberAccelerator(
  options: Pick<AcceleratorProbeOptions, 'virsh' | 'stateDir' | 'bootIdPath'>,
  choice: AcceleratorChoice,
) {
  const path = join(options.stateDir, CACHE_FILE);
  const boot = await bootId(options.bootIdPath ?? '/proc/sys/kernel/random/boot_id');
  const cached = JSON.parse(await readFile(path, 'utf8').catch(() => '{}'));
  cached[`${boot} ${options.virsh.uri}`] = choice;
  await mkdir(options.stateDir, { recursive: true, mode: 0o755 });
  await writeFile(`${path}.${process.pid}`, JSON.stringify(cached, null, 2));
  await rename(`${path}.${process.pid}`, path);
}

/** A KVM domain that boots `kernel` with its console in `log`: output within seconds means KVM works. */
export function probeDomainXml(
  name: string,
  kernel: string,
  log: string,
  run?: RunContext,
): string {
  const root = create({ version: '1.0' }).ele('domain', { type: 'kvm' });
  root.ele('name').txt(name);
  if (run) {
    appendTestbedMetadata(root.ele('metadata'), {
      runId: run.runId,
      owner: run.owner,
      createdAt: Date.now(),
      paths: { serialLog: log },
    });
  }
  root.ele('memory', { unit: 'MiB' }).txt('128');
  root.ele('vcpu').txt('1');
  const os = root.ele('os');
  os.ele('type', { arch: 'x86_64', machine: 'pc' }).txt('hvm');
  os.ele('kernel').txt(kernel);
  os.ele('cmdline').txt('console=ttyS0 panic=-1');
  const devices = root.ele('devices');
  // append: without it libvirtd replaces the file with one of root's, mode 0600 (see readable-file.ts).
  devices.ele('serial', { type: 'file' }).ele('source', { path: log, append: 'on' });
  devices.ele('memballoon', { model: 'none' });
  return root.end({ headless: true });
}

async function bootsUnderKvm(options: AcceleratorProbeOptions, kernel: string): Promise<boolean> {
  const id = shortId(6);
  const name = `testbed-probe-${id}`;
  const dir = join(options.stateDir, `probe-${id}`);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const log = join(dir, 'serial.log');
  const xmlPath = join(dir, 'probe.xml');
  const signal = options.signal ? { signal: options.signal } : {};
  try {
    await createReadableFile(log);
    await writeFile(xmlPath, probeDomainXml(name, kernel, log, options.run));
    await options.virsh.call(['create', xmlPath], { timeoutMs: 30_000, ...signal });
    try {
      // A working KVM prints the kernel banner within a second; here the guest stays silent.
      await new SerialConsole(log, { machineName: name }).waitFor(/Linux version/, {
        timeoutMs: options.timeoutMs ?? 6_000,
        ...signal,
      });
      return true;
    } catch (error) {
      options.signal?.throwIfAborted();
      if ((error as { code?: string }).code === 'TESTBED_TIMEOUT') return false;
      throw error;
    } finally {
      await teardownDomain(options.virsh, name).catch(() => {});
    }
  } catch (error) {
    options.signal?.throwIfAborted();
    // A KVM guest that libvirt cannot even start (e.g. QEMU aborting on an MSR) is not working KVM.
    if ((error as { code?: string }).code === 'TESTBED_COMMAND_FAILED') return false;
    throw error;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Finds the accelerator that really works: KVM only when a KVM guest boots the given kernel,
 * else TCG with the reason. Cached per host boot and URI in the state directory.
 */
export async function probeAccelerator(
  options: AcceleratorProbeOptions,
): Promise<AcceleratorChoice> {
  const cached = await cachedAccelerator(options);
  if (cached) return cached;
  const obstacle = await cheapChecks(options);
  if (obstacle) {
    const choice: AcceleratorChoice = { accelerator: 'tcg', reason: obstacle, verified: true };
    await rememberAccelerator(options, choice);
    return choice;
  }
  if (!options.kernel) {
    return {
      accelerator: 'tcg',
      reason:
        'KVM is present but not yet verified: the first provision boots a guest under KVM to check',
      verified: false,
    };
  }
  await access(options.kernel, constants.R_OK);
  const works = await bootsUnderKvm(options, options.kernel);
  const choice: AcceleratorChoice = works
    ? { accelerator: 'kvm', verified: true }
    : {
        accelerator: 'tcg',
        reason: `/dev/kvm is present but a KVM guest does not start (no kernel output within ${Math.round((options.timeoutMs ?? 6_000) / 1000)} s; nested virtualization without VMX?)`,
        verified: true,
      };
  await rememberAccelerator(options, choice);
  return choice;
}
