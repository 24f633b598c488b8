import { readdir, realpath, stat, statfs } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { types } from 'node:util';
import type { TestbedConfig } from '../../core/config.js';
import { AbortedError, NoSpaceError, TimeoutError } from '../../core/errors.js';
import type {
  Machine,
  MachineSnapshot,
  MachineSpec,
  RestoreOptions,
  WarmTemplateOptions,
} from '../../core/provider.js';
import { prepareDigest } from '../../files/prepare-steps.js';
import {
  fingerprintChanges,
  type TemplateFingerprint,
  type TemplateOrigin,
  TemplateStore,
  templateKey,
  templatesUsedBy,
} from '../../images/template-store.js';
import type { AcceleratorChoice } from './accelerator-probe.js';
import type { LibvirtMachine } from './libvirt-machine.js';
import { StandbyPool } from './standby-pool.js';
import { DEFAULT_EMULATOR, readCpuinfo, templateFingerprint } from './template-fingerprint.js';
import type { Virsh } from './virsh.js';
import { parseVmSpec } from './vm-spec.js';
import type { WarmSnapshots } from './warm-snapshots.js';

/** The files of a base image that a template's key covers. */
interface TemplateImage {
  base: string;
  kernel?: string | undefined;
  initrd?: string | undefined;
}

/** What stored templates need from their provisioner. */
export interface StoredTemplatesDeps {
  config: TestbedConfig;
  /** The run's directory: new entries are staged there, so a killed run leaves no half entry. */
  runDir: string;
  virsh: Virsh;
  warm: WarmSnapshots;
  /** Boots the template machine (a cold provision). */
  provision: (spec: MachineSpec) => Promise<Machine>;
  resolveImage: (nameOrPath: string) => Promise<TemplateImage>;
  accelerator: (kernel: string | undefined) => Promise<AcceleratorChoice>;
  /** The project using the templates (default: the working directory), for `prewarm`. */
  project?: string;
}

/** `prewarm` covers templates the project used this recently, this many at most. */
const PREWARM_WITHIN_MS = 24 * 60 * 60_000;
const PREWARM_MAX = 4;
/** Beyond the guest's memory and disk writes, room for device state and the copy's header. */
const ENTRY_MARGIN_BYTES = 128 * 1024 ** 2;

/**
 * A stable text of a template spec's plain data, or undefined if it holds something that only
 * identity tells apart (a function, a class instance): such a template is not stored.
 */
export function describeSpec(value: unknown): string | undefined {
  if (value === undefined) return 'undefined';
  if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) {
    return JSON.stringify(value);
  }
  if (types.isRegExp(value)) return `/${value.source}/${value.flags}`;
  if (typeof value !== 'object') return undefined;
  if (Array.isArray(value)) {
    const items = value.map(describeSpec);
    return items.includes(undefined) ? undefined : `[${items.join(',')}]`;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return undefined;
  const parts: string[] = [];
  for (const [k, v] of Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (v === undefined) continue;
    const text = describeSpec(v);
    if (text === undefined) return undefined;
    parts.push(`${JSON.stringify(k)}:${text}`);
  }
  return `{${parts.join(',')}}`;
}

/** A file's identity for a key: where it is, its size and last change (an image rebuilt in place changes them). */
async function fileIdentity(path: string | undefined): Promise<string | undefined> {
  if (!path) return undefined;
  const real = await realpath(path);
  const info = await stat(real);
  return `${real} ${info.size} ${Math.trunc(info.mtimeMs)}`;
}

function imageProblem(error: unknown): boolean {
  return !(
    error instanceof AbortedError ||
    error instanceof TimeoutError ||
    error instanceof NoSpaceError
  );
}

/**
 * libvirt's warm templates kept in the host's template store (`config.templateDir`): one per
 * (libvirt URI, image files, template spec), made once by whichever process asks first and
 * restored by every process and run after it, while the host's fingerprint still matches.
 */
export class StoredTemplates {
  readonly #store: TemplateStore;
  readonly #fingerprints = new Map<string, Promise<TemplateFingerprint>>();
  readonly #pools = new Map<string, StandbyPool>();

  constructor(private readonly deps: StoredTemplatesDeps) {
    this.#store = new TemplateStore(deps.config.templateDir, deps.runDir);
  }

  /** Standbys per template: as many as tests of a run's first files start at once (one a core). */
  get #standbys(): number {
    return this.deps.config.standby ?? Math.min(4, availableParallelism());
  }

  get #project(): string {
    return this.deps.project ?? process.cwd();
  }

  /**
   * Starts standbys of the templates this project used in the last day (at most `PREWARM_MAX`),
   * so even a run's first test gets a machine already running. Entries made for another host
   * are skipped; any failure only means no standby.
   */
  async prewarm(): Promise<void> {
    if (this.#standbys === 0) return;
    const recent = await templatesUsedBy(
      this.deps.config.templateDir,
      this.#project,
      PREWARM_WITHIN_MS,
    );
    const ours = recent.filter(
      (e) => e.providerId === 'libvirt' && e.scope === this.deps.config.libvirtUri,
    );
    for (const entry of ours.slice(0, PREWARM_MAX)) {
      try {
        const accelerator = entry.fingerprint.accelerator as AcceleratorChoice['accelerator'];
        const here = await this.#fingerprint(accelerator);
        if (fingerprintChanges(entry.fingerprint, here).length > 0) continue;
        const template = await this.deps.warm.loadTemplate(entry.dir);
        const pool = this.#poolOf(entry.key, template.memoryMiB, () => template.restore({}));
        pool.fill();
      } catch {
        // A standby is an optimisation: the test that needs this template makes its own restore.
      }
    }
  }

  /** Destroys the run's standbys not leased, of every process (the run is ending). */
  async releaseStandbys(): Promise<void> {
    const root = join(this.deps.runDir, 'standby');
    const keys = await readdir(root).catch(() => [] as string[]);
    await Promise.all(
      keys.map((key) => {
        const pool = this.#pools.get(key) ?? this.#poolOf(key, 0, () => Promise.reject());
        this.#pools.delete(key);
        return pool.clear();
      }),
    );
  }

  /**
   * The template of `spec`: from the store, else made there. A stored template that fails to
   * restore (a corrupt or foreign save image) is removed and made again, once, and said so.
   * Undefined when the spec holds values that cannot be keyed by content.
   */
  async get(
    spec: MachineSpec,
    options: WarmTemplateOptions = {},
  ): Promise<MachineSnapshot | undefined> {
    // A prepare is keyed by the content it copies, not by the host paths it names.
    const { prepare, ...plain } = spec;
    const described = describeSpec(plain);
    if (described === undefined) return undefined;
    const parsed = parseVmSpec(spec);
    const image = await this.deps.resolveImage(parsed.image);
    const kernel = parsed.kernel ?? image.kernel;
    const initrd = parsed.initrd ?? image.initrd;
    const { accelerator } = await this.deps.accelerator(kernel);
    const fingerprint = await this.#fingerprint(accelerator);
    const key = templateKey({
      provider: 'libvirt',
      uri: this.deps.config.libvirtUri,
      image: [
        await fileIdentity(image.base),
        await fileIdentity(kernel),
        await fileIdentity(initrd),
      ],
      spec: described,
      prepare: prepare ? await prepareDigest(prepare) : null,
    });
    const label = `libvirt ${parsed.image}${prepare ? ' (prepared)' : ''}`;
    const needed = parsed.memoryMiB * 1024 ** 2 + ENTRY_MARGIN_BYTES;
    const open = () =>
      this.#store.open<MachineSnapshot>({
        key,
        fingerprint,
        label,
        providerId: 'libvirt',
        scope: this.deps.config.libvirtUri,
        project: this.#project,
        ...(options.onNote ? { onNote: options.onNote, onWait: options.onNote } : {}),
        make: async (dir) => {
          await checkFreeSpace(this.deps.config.templateDir, needed, `store the template ${label}`);
          const machine = (await this.deps.provision({
            ...spec,
            name: 'template',
          })) as LibvirtMachine;
          try {
            await this.deps.warm.saveTemplate(machine, dir);
          } finally {
            await machine.destroy().catch(() => {});
          }
        },
        load: (dir) => this.deps.warm.loadTemplate(dir),
      });
    let current: { value: MachineSnapshot; origin: TemplateOrigin } = await open();
    let reopening: Promise<void> | undefined;
    const store = this.#store;
    const pool = this.#poolOf(key, parsed.memoryMiB, () => current.value.restore({}));
    pool.fill();
    return {
      id: key,
      warm: true,
      origin: current.origin,
      async restore(restoreOptions: RestoreOptions = {}): Promise<Machine> {
        const leased = await pool.lease(restoreOptions);
        if (leased) return leased;
        const used = current;
        try {
          return await used.value.restore(restoreOptions);
        } catch (error) {
          if (!imageProblem(error) || used.origin === 'made') throw error;
          reopening ??= (async () => {
            options.onNote?.(
              `testbed: warm template ${label} from the store did not restore (${(error as Error).message.split('\n')[0]}); making a new one`,
            );
            const meta = await store.meta(key);
            if (meta) await store.invalidate(key, meta.createdAt);
            current = await open();
          })();
          await reopening;
          return current.value.restore(restoreOptions);
        }
      },
      destroy: () => {
        this.#pools.delete(key);
        return pool.drain();
      },
    };
  }

  /** The run's standbys of one template, shared by every `get` of its key in this process. */
  #poolOf(key: string, memoryMiB: number, restore: () => Promise<Machine>): StandbyPool {
    let pool = this.#pools.get(key);
    if (!pool) {
      pool = new StandbyPool({
        dir: join(this.deps.runDir, 'standby', key),
        restore: async () => (await restore()) as LibvirtMachine,
        adopt: (state) => this.deps.warm.adopt(state),
        virsh: this.deps.virsh,
        size: this.#standbys,
        memoryMiB,
      });
      this.#pools.set(key, pool);
    }
    return pool;
  }

  #fingerprint(accelerator: AcceleratorChoice['accelerator']): Promise<TemplateFingerprint> {
    let found = this.#fingerprints.get(accelerator);
    if (!found) {
      found = (async () =>
        templateFingerprint({
          virshVersion: (await this.deps.virsh.call(['version'])).stdout,
          accelerator,
          emulator: DEFAULT_EMULATOR,
          cpuinfo: await readCpuinfo(),
        }))();
      found.catch(() => this.#fingerprints.delete(accelerator));
      this.#fingerprints.set(accelerator, found);
    }
    return found;
  }
}

async function checkFreeSpace(dir: string, neededBytes: number, operation: string): Promise<void> {
  const stats = await statfs(dir).catch(() => undefined);
  if (!stats) return;
  const freeBytes = stats.bavail * stats.bsize;
  if (freeBytes < neededBytes) throw new NoSpaceError(dir, neededBytes, freeBytes, operation);
}
