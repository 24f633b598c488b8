import { setTimeout as sleep } from 'node:timers/promises';
import { AbortedError, CommandFailedError, HostStorageError } from '../../core/errors.js';
import type { Virsh } from './virsh.js';

/** The pool testbed keeps its volumes in on a remote host, and where it is made when missing. */
export const HOST_POOL = { name: 'testbed', path: '/var/lib/libvirt/images/testbed' } as const;

/** How long a second uploader waits for the first one's copy of the same image. */
const UPLOAD_WAIT_MS = 600_000;
const DENIED = /permission denied|read-only file system|access denied|forbidden|not permitted/i;
const EXISTS = /already exists|already in use/i;

function stderrOf(error: unknown): string {
  if (error instanceof CommandFailedError) return error.stderr.trim();
  return error instanceof Error ? error.message : String(error);
}

/**
 * testbed's storage pool on one libvirt host, used only through libvirt's storage API: base
 * images are uploaded once per host under their content hash (with a `.ready` marker once
 * complete, so a parallel uploader waits instead of booting a half-copied disk); overlays,
 * seeds and serial logs are volumes named after their machine.
 */
export class HostPool {
  #ready: Promise<string> | undefined;
  readonly #uploads = new Map<string, Promise<string>>();

  constructor(
    private readonly virsh: Virsh,
    private readonly providerId: string,
  ) {}

  /** The pool's directory on the host, once the pool exists and runs (created when missing). */
  ensure(signal?: AbortSignal): Promise<string> {
    this.#ready ??= this.#ensure(signal).catch((error: unknown) => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  /** The host path of the base image (kernel, initrd) whose content hash is `sha256`, uploaded from `localPath` if missing. */
  async upload(
    kind: 'base' | 'kernel' | 'initrd',
    localPath: string,
    sizeBytes: number,
    sha256: string,
    signal?: AbortSignal,
  ): Promise<string> {
    const name = `${kind}-${sha256.slice(0, 24)}`;
    let upload = this.#uploads.get(name);
    if (!upload) {
      upload = this.#uploadOnce(name, localPath, sizeBytes, signal);
      this.#uploads.set(name, upload);
      upload.catch(() => this.#uploads.delete(name));
    }
    return upload;
  }

  /** Creates an empty volume (a serial log) and returns its host path. */
  async createEmpty(name: string, signal?: AbortSignal): Promise<string> {
    await this.#call(['vol-create-as', HOST_POOL.name, name, '0', '--format', 'raw'], signal);
    return this.#path(name);
  }

  /** Creates a qcow2 overlay volume on `backingPath` of `capacityBytes` and returns its host path. */
  async createOverlay(
    name: string,
    backingPath: string,
    backingFormat: 'qcow2' | 'raw',
    capacityBytes: number,
    signal?: AbortSignal,
  ): Promise<string> {
    await this.#call(
      [
        'vol-create-as',
        HOST_POOL.name,
        name,
        String(capacityBytes),
        '--format',
        'qcow2',
        '--backing-vol',
        backingPath,
        '--backing-vol-format',
        backingFormat,
      ],
      signal,
    );
    return this.#path(name);
  }

  /** Uploads a local file as a new raw volume (a NoCloud seed) and returns its host path. */
  async uploadFile(
    name: string,
    localPath: string,
    sizeBytes: number,
    signal?: AbortSignal,
  ): Promise<string> {
    await this.#call(
      ['vol-create-as', HOST_POOL.name, name, String(sizeBytes), '--format', 'raw'],
      signal,
    );
    try {
      await this.#call(['vol-upload', '--pool', HOST_POOL.name, name, localPath], signal, 600_000);
    } catch (error) {
      await this.delete(name).catch(() => undefined);
      throw error;
    }
    return this.#path(name);
  }

  /** Appends the bytes of volume `name` from `offset` on to the local file `into` (a fresh file each call). */
  async download(name: string, into: string, offset: number, signal?: AbortSignal): Promise<void> {
    await this.virsh.call(
      ['vol-download', '--pool', HOST_POOL.name, name, into, '--offset', String(offset)],
      { timeoutMs: 30_000, ...(signal ? { signal } : {}) },
    );
  }

  /** Names of the pool's volumes. */
  async names(signal?: AbortSignal): Promise<string[]> {
    const { stdout, exitCode } = await this.#try(['vol-list', HOST_POOL.name], signal);
    if (exitCode !== 0) return [];
    // `-q vol-list` prints "name  path" lines.
    return stdout
      .split('\n')
      .map((line) => line.trim().split(/\s+/)[0] ?? '')
      .filter(Boolean);
  }

  /** Deletes a volume; one that is already gone counts as done. */
  async delete(name: string, signal?: AbortSignal): Promise<void> {
    const result = await this.#try(['vol-delete', '--pool', HOST_POOL.name, name], signal);
    if (result.exitCode !== 0 && !/not found|no storage vol/i.test(result.stderr)) {
      throw new Error(`virsh vol-delete ${name}: ${result.stderr.trim()}`);
    }
  }

  async #path(name: string): Promise<string> {
    return `${await this.ensure()}/${name}`;
  }

  async #exists(name: string, signal?: AbortSignal): Promise<boolean> {
    return (await this.#try(['vol-info', '--pool', HOST_POOL.name, name], signal)).exitCode === 0;
  }

  async #uploadOnce(
    name: string,
    localPath: string,
    sizeBytes: number,
    signal?: AbortSignal,
  ): Promise<string> {
    const ready = `${name}.ready`;
    if (await this.#exists(ready, signal)) return this.#path(name);
    const created = await this.virsh.call(
      ['vol-create-as', HOST_POOL.name, name, String(sizeBytes), '--format', 'raw'],
      { reject: false, timeoutMs: 60_000, ...(signal ? { signal } : {}) },
    );
    if (created.exitCode !== 0) {
      if (!EXISTS.test(created.stderr)) throw this.#denied(created.stderr.trim());
      // Another process is uploading the same image: its marker says when the copy is whole.
      const deadline = Date.now() + UPLOAD_WAIT_MS;
      while (!(await this.#exists(ready, signal))) {
        if (signal?.aborted) throw new AbortedError(`Waiting for ${name}`, signal.reason);
        if (Date.now() > deadline) {
          throw new HostStorageError(
            this.providerId,
            HOST_POOL.name,
            `${name} never finished uploading`,
            {
              fix: `An upload was cut off: delete it (virsh -c '${this.virsh.uri}' vol-delete --pool ${HOST_POOL.name} ${name}) and run again.`,
            },
          );
        }
        await sleep(500);
      }
      return this.#path(name);
    }
    try {
      await this.#call(['vol-upload', '--pool', HOST_POOL.name, name, localPath], signal, 600_000);
      await this.#call(['vol-create-as', HOST_POOL.name, ready, '0', '--format', 'raw'], signal);
    } catch (error) {
      await this.delete(name).catch(() => undefined);
      throw error;
    }
    return this.#path(name);
  }

  async #ensure(signal?: AbortSignal): Promise<string> {
    let xml = await this.#try(['pool-dumpxml', HOST_POOL.name], signal);
    if (xml.exitCode !== 0) {
      // Several workers may define it at once: the loser's "already exists" is success.
      const define = await this.#try(
        ['pool-define-as', HOST_POOL.name, 'dir', '--target', HOST_POOL.path],
        signal,
      );
      if (define.exitCode !== 0 && !EXISTS.test(define.stderr)) {
        throw this.#denied(define.stderr.trim());
      }
      await this.#try(['pool-build', HOST_POOL.name], signal);
      await this.#try(['pool-autostart', HOST_POOL.name], signal);
      xml = await this.#try(['pool-dumpxml', HOST_POOL.name], signal);
    }
    const info = await this.#try(['pool-info', HOST_POOL.name], signal);
    if (!/^State:\s+running/m.test(info.stdout)) {
      const start = await this.#try(['pool-start', HOST_POOL.name], signal);
      if (start.exitCode !== 0 && !/already active/i.test(start.stderr)) {
        throw this.#denied(start.stderr.trim());
      }
    }
    return /<path>([^<]+)<\/path>/.exec(xml.stdout)?.[1] ?? HOST_POOL.path;
  }

  /** A virsh call whose failure the caller reads (exit code and stderr). */
  #try(args: readonly string[], signal?: AbortSignal) {
    return this.virsh.call(args, {
      reject: false,
      timeoutMs: 30_000,
      ...(signal ? { signal } : {}),
    });
  }

  async #call(args: readonly string[], signal?: AbortSignal, timeoutMs = 60_000): Promise<void> {
    try {
      await this.virsh.call(args, { timeoutMs, ...(signal ? { signal } : {}) });
    } catch (error) {
      if (error instanceof CommandFailedError) throw this.#denied(stderrOf(error), error);
      throw error;
    }
  }

  #denied(reason: string, cause?: unknown): HostStorageError {
    const fix = DENIED.test(reason)
      ? `Let libvirtd on that host write the pool's directory (${HOST_POOL.path} by default), or define pool '${HOST_POOL.name}' on a writable directory: virsh -c '${this.virsh.uri}' pool-define-as ${HOST_POOL.name} dir --target /srv/testbed && virsh -c '${this.virsh.uri}' pool-build ${HOST_POOL.name} && virsh -c '${this.virsh.uri}' pool-start ${HOST_POOL.name}.`
      : `Check the pool with virsh -c '${this.virsh.uri}' pool-info ${HOST_POOL.name}; the connecting user must be allowed to manage storage (polkit / libvirt group).`;
    return new HostStorageError(this.providerId, HOST_POOL.name, reason, { cause, fix });
  }
}
