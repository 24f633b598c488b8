import { createHash } from 'node:crypto';
import {
  cp,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { shortId } from '../core/run-context.js';
import { acquireImageLock } from './image-lock.js';

/**
 * Version of the layout of a template entry and of what its key covers; a change makes every
 * older entry's key unreachable, so no run restores a template it cannot read.
 */
export const TEMPLATE_FORMAT = 1;
/** The entry's description, written last before the entry is published. */
const META_FILE = 'meta.json';
/** Its modification time is the entry's last use. */
const USED_FILE = 'last-used';
/** `used-by-<project hash>`: its modification time is the entry's last use from that project. */
const USED_BY = 'used-by-';
/** An entry used this recently may have machines running on its disk: `prune` leaves it. */
export const TEMPLATE_IN_USE_MS = 10 * 60_000;
/** A staging copy this old was left by a process that died while publishing. */
const STALE_STAGING_MS = 60 * 60_000;

/** What makes a saved machine state restorable here; any difference makes the entry unusable. */
export type TemplateFingerprint = Readonly<Record<string, string>>;

/** A template entry's description. */
export interface TemplateMeta {
  /** The entry's key (its directory name). */
  key: string;
  /** What it is, for people: provider and image. */
  label: string;
  /** The provider that made it. */
  providerId: string;
  /** When it was made, ms since the epoch. */
  createdAt: number;
  /** The host it was made for: QEMU, libvirt, accelerator, machine shape. */
  fingerprint: TemplateFingerprint;
  /** Bytes on disk. */
  bytes: number;
  /** Where its machines run (a libvirt URI): the key covers it, this tells it apart when listing. */
  scope?: string;
}

/** A template entry as `listTemplates` finds it. */
export interface TemplateEntry extends TemplateMeta {
  /** The entry's directory. */
  dir: string;
  /** Last restore from it (or its creation), ms since the epoch. */
  lastUsedAt: number;
}

/** How `TemplateStore.open` came by an entry. */
export type TemplateOrigin = 'made' | 'store';

/** Options of `TemplateStore.open`. */
export interface OpenTemplateOptions<T> {
  /** The entry's key: `templateKey()` of everything that decides its content. */
  key: string;
  /** What makes a saved state restorable here (compared with the entry's). */
  fingerprint: TemplateFingerprint;
  /** What it is, for people. */
  label: string;
  /** The provider making it. */
  providerId: string;
  /** Where its machines run (see `TemplateMeta.scope`). */
  scope?: string;
  /** The project (its directory) using it: a run of it prepares standbys of what it used last. */
  project?: string;
  /** Writes a new entry's files into the empty directory given (a staging copy). */
  make: (dir: string) => Promise<void>;
  /** Reads a published entry; throws if it cannot be used. */
  load: (dir: string) => Promise<T>;
  /** Told once why an entry found was not used and is being made again. */
  onNote?: (message: string) => void;
  /** Told once when another process is making the entry and this one waits. */
  onWait?: (message: string) => void;
}

/** The sha256 of a template's defining parts (provider, host, image, spec, steps), as hex. */
export function templateKey(parts: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify([TEMPLATE_FORMAT, parts]))
    .digest('hex')
    .slice(0, 32);
}

/** The differences between an entry's fingerprint and this host's, as `name: was → now`. */
export function fingerprintChanges(was: TemplateFingerprint, now: TemplateFingerprint): string[] {
  const names = [...new Set([...Object.keys(was), ...Object.keys(now)])].sort();
  return names
    .filter((n) => was[n] !== now[n])
    .map((n) => `${n}: ${was[n] ?? 'unset'} → ${now[n] ?? 'unset'}`);
}

function usedByFile(project: string): string {
  return USED_BY + createHash('sha256').update(project).digest('hex').slice(0, 16);
}

async function readMeta(dir: string): Promise<TemplateMeta | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, META_FILE), 'utf8')) as TemplateMeta;
  } catch {
    return undefined;
  }
}

async function sizeOf(path: string): Promise<number> {
  const info = await stat(path);
  if (!info.isDirectory()) return info.blocks * 512;
  let total = 0;
  for (const name of await readdir(path)) total += await sizeOf(join(path, name));
  return total;
}

/**
 * Warm templates kept across runs and shared by every process of a host: one directory per key
 * under `dir`, made once under a lock, written in a staging directory and published by a rename,
 * so no reader ever sees half an entry and a process killed while making one leaves only its
 * staging copy (in its run's directory, which the reaper removes).
 */
export class TemplateStore {
  constructor(
    /** Where the entries live. */
    readonly dir: string,
    /** Where new entries are staged: the run's directory. */
    private readonly stagingRoot: string,
  ) {}

  /**
   * The entry under `key`, loaded; made first if there is none, if it was made for another host
   * (fingerprint) or if it cannot be loaded: each of those is said once through `onNote`.
   */
  async open<T>(options: OpenTemplateOptions<T>): Promise<{ value: T; origin: TemplateOrigin }> {
    const entry = join(this.dir, options.key);
    const found = await this.#tryLoad(entry, options);
    if (found) return { value: found.value, origin: 'store' };
    return this.#make(entry, options);
  }

  /** Removes the entry under `key` if it is still the one made at `createdAt` (it failed to restore). */
  async invalidate(key: string, createdAt: number): Promise<void> {
    const entry = join(this.dir, key);
    if ((await readMeta(entry))?.createdAt !== createdAt) return;
    await this.#remove(entry);
  }

  /** The entry's description, if it is published. */
  meta(key: string): Promise<TemplateMeta | undefined> {
    return readMeta(join(this.dir, key));
  }

  async #tryLoad<T>(
    entry: string,
    options: OpenTemplateOptions<T>,
  ): Promise<{ value: T } | undefined> {
    const meta = await readMeta(entry);
    if (!meta) return undefined;
    const changes = fingerprintChanges(meta.fingerprint, options.fingerprint);
    if (changes.length > 0) {
      options.onNote?.(
        `testbed: warm template ${options.label} in the store was made for another host (${changes.join('; ')}); making a new one`,
      );
      return undefined;
    }
    try {
      const value = await options.load(entry);
      await markUsed(entry, options.project);
      return { value };
    } catch (error) {
      options.onNote?.(
        `testbed: warm template ${options.label} in the store cannot be used (${(error as Error).message.split('\n')[0]}); making a new one`,
      );
      return undefined;
    }
  }

  async #make<T>(
    entry: string,
    options: OpenTemplateOptions<T>,
  ): Promise<{ value: T; origin: TemplateOrigin }> {
    await mkdir(this.dir, { recursive: true, mode: 0o755 });
    const lock = await acquireImageLock(`${entry}.lock`, {
      timeoutMs: 30 * 60_000,
      onWait: (holder) =>
        options.onWait?.(
          `testbed: waiting for pid ${holder.pid}, which is making the warm template ${options.label}`,
        ),
    });
    try {
      // Another process may have published it while this one waited for the lock.
      const before = await readMeta(entry);
      if (before) {
        const found = await this.#tryLoad(entry, { ...options, onNote: () => {} });
        if (found) return { value: found.value, origin: 'store' };
      }
      await mkdir(this.stagingRoot, { recursive: true, mode: 0o755 });
      const staging = join(this.stagingRoot, `template-${shortId(6)}`);
      await mkdir(staging, { mode: 0o755 });
      try {
        await options.make(staging);
        const meta: TemplateMeta = {
          key: options.key,
          label: options.label,
          providerId: options.providerId,
          createdAt: Date.now(),
          fingerprint: options.fingerprint,
          bytes: await sizeOf(staging),
          ...(options.scope === undefined ? {} : { scope: options.scope }),
        };
        await writeFile(join(staging, USED_FILE), '');
        await writeFile(join(staging, META_FILE), `${JSON.stringify(meta, null, 2)}\n`);
        if (options.project) await writeFile(join(staging, usedByFile(options.project)), '');
        if (before) await this.#remove(entry);
        await this.#publish(staging, entry);
      } catch (error) {
        await rm(staging, { recursive: true, force: true });
        throw error;
      }
      return { value: await options.load(entry), origin: 'made' };
    } finally {
      await lock.release();
    }
  }

  /** Moves a staged entry into place; across file systems, through a copy beside the store. */
  async #publish(staging: string, entry: string): Promise<void> {
    try {
      await rename(staging, entry);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
      const near = join(this.dir, `.staging-${shortId(6)}`);
      await cp(staging, near, { recursive: true });
      await rename(near, entry);
      await rm(staging, { recursive: true, force: true });
    }
  }

  /** Renames the entry aside first: a reader sees it whole or not at all. */
  async #remove(entry: string): Promise<void> {
    const aside = join(this.dir, `.removed-${shortId(6)}`);
    await rename(entry, aside).catch(() => undefined);
    await rm(aside, { recursive: true, force: true });
  }
}

async function markUsed(entry: string, project: string | undefined): Promise<void> {
  const now = new Date();
  await utimes(join(entry, USED_FILE), now, now).catch(() => {});
  if (project) await writeFile(join(entry, usedByFile(project)), '').catch(() => {});
}

/** The entries under `dir` that `project` used within the last `withinMs`, most recent first. */
export async function templatesUsedBy(
  dir: string,
  project: string,
  withinMs: number,
  now = Date.now(),
): Promise<TemplateEntry[]> {
  const recent: TemplateEntry[] = [];
  for (const entry of await listTemplates(dir)) {
    const used = await stat(join(entry.dir, usedByFile(project))).catch(() => undefined);
    if (used && now - used.mtimeMs <= withinMs) recent.push({ ...entry, lastUsedAt: used.mtimeMs });
  }
  return recent.sort((a, b) => b.lastUsedAt - a.lastUsedAt);
}

/** The published entries under `dir`, most recently used first. */
export async function listTemplates(dir: string): Promise<TemplateEntry[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const entries: TemplateEntry[] = [];
  for (const name of names) {
    if (name.startsWith('.') || name.endsWith('.lock')) continue;
    const entryDir = join(dir, name);
    const meta = await readMeta(entryDir);
    if (!meta) continue;
    const used = await stat(join(entryDir, USED_FILE)).catch(() => undefined);
    entries.push({ ...meta, dir: entryDir, lastUsedAt: used?.mtimeMs ?? meta.createdAt });
  }
  return entries.sort((a, b) => b.lastUsedAt - a.lastUsedAt);
}

/** Limits of `pruneTemplates`. */
export interface PruneTemplatesOptions {
  /** Entries unused for longer go. */
  maxAgeMs: number;
  /** Beyond this many bytes in all, the least recently used go first. */
  maxBytes: number;
  /** Remove every entry not in use, whatever the limits. */
  all?: boolean;
  /** Decide, remove nothing. */
  dryRun?: boolean;
  /** Now, ms since the epoch (tests). */
  now?: number;
}

/** One entry's fate in `pruneTemplates`. */
export interface TemplatePruneDecision {
  /** The entry. */
  entry: TemplateEntry;
  /** Whether it goes. */
  remove: boolean;
  /** Why. */
  reason: string;
}

/** Which entries `pruneTemplates` removes: a pure decision over what `listTemplates` found. */
export function planTemplatePrune(
  entries: readonly TemplateEntry[],
  options: PruneTemplatesOptions,
): TemplatePruneDecision[] {
  const now = options.now ?? Date.now();
  let kept = 0;
  return entries.map((entry) => {
    const idle = now - entry.lastUsedAt;
    if (idle < TEMPLATE_IN_USE_MS) {
      kept += entry.bytes;
      return { entry, remove: false, reason: 'used in the last 10 minutes' };
    }
    if (options.all)
      return { entry, remove: true, reason: '--templates: every template not in use' };
    if (idle > options.maxAgeMs)
      return { entry, remove: true, reason: 'unused past the age limit' };
    if (kept + entry.bytes > options.maxBytes) {
      return { entry, remove: true, reason: 'over the size limit (least recently used first)' };
    }
    kept += entry.bytes;
    return { entry, remove: false, reason: 'within the limits' };
  });
}

/** Removes the entries past the limits (and staging copies left by dead processes); returns the decisions. */
export async function pruneTemplates(
  dir: string,
  options: PruneTemplatesOptions,
): Promise<TemplatePruneDecision[]> {
  const decisions = planTemplatePrune(await listTemplates(dir), options);
  if (options.dryRun) return decisions;
  for (const { entry, remove } of decisions) {
    if (!remove) continue;
    const aside = join(dir, `.removed-${shortId(6)}`);
    await rename(entry.dir, aside).catch(() => undefined);
    await rm(aside, { recursive: true, force: true });
  }
  const now = options.now ?? Date.now();
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith('.staging-') && !name.startsWith('.removed-')) continue;
    const info = await stat(join(dir, name)).catch(() => undefined);
    if (info && now - info.mtimeMs > STALE_STAGING_MS) {
      await rm(join(dir, name), { recursive: true, force: true });
    }
  }
  return decisions;
}
