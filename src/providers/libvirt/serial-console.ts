import { open, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { TimeoutError } from '../../core/errors.js';
import {
  checkArguments,
  consolePatternSchema,
  waitForOptionsSchema,
} from '../../core/option-schemas.js';
import type { MachineConsole, WaitForOptions } from '../../core/provider.js';

/** How often the log file is polled: libvirt writes it, so there is no stream to subscribe to. */
const POLL_MS = 100;

/** Options for a console over a log file. */
export interface SerialConsoleOptions {
  /** Name of the machine, for error messages. */
  machineName: string;
  /** True once the machine is gone: `stream()` then ends after reading what is left. */
  isGone?: () => boolean;
  /** Polling interval in ms. */
  pollMs?: number;
  /** Brings the file up to date before each read (a remote host's log is mirrored locally). */
  refresh?: () => Promise<void>;
}

async function readOrEmpty(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
}

function lastLines(text: string, lines: number): string {
  const all = text.replaceAll('\r', '').split('\n');
  if (all.at(-1) === '') all.pop();
  return all.slice(-lines).join('\n');
}

/** A machine's serial console, read from the file libvirt writes it to. */
export class SerialConsole implements MachineConsole {
  readonly #pollMs: number;

  constructor(
    readonly path: string,
    private readonly options: SerialConsoleOptions,
  ) {
    this.#pollMs = options.pollMs ?? POLL_MS;
  }

  /** Everything written to the console so far. */
  async read(): Promise<string> {
    await this.options.refresh?.();
    return readOrEmpty(this.path);
  }

  /** The last `lines` lines of the console. */
  async tail(lines = 20): Promise<string> {
    return lastLines(await this.read(), lines);
  }

  /** The console's output as it arrives, from the beginning, until aborted or the machine is gone. */
  async *stream(signal?: AbortSignal): AsyncIterable<string> {
    let offset = 0;
    const decoder = new TextDecoder();
    while (!signal?.aborted) {
      const gone = this.options.isGone?.() ?? false;
      const chunk = await this.#readFrom(offset);
      if (chunk.length > 0) {
        offset += chunk.length;
        yield decoder.decode(chunk, { stream: true });
        continue;
      }
      if (gone) return;
      await sleep(this.#pollMs, undefined, { signal }).catch(() => undefined);
    }
  }

  /** Resolves with the first match of `pattern`; rejects with a `TimeoutError` holding the last lines. */
  async waitFor(pattern: string | RegExp, options: WaitForOptions = {}): Promise<RegExpExecArray> {
    checkArguments('console.waitFor()', [
      { name: 'pattern', schema: consolePatternSchema, value: pattern },
      { name: 'options', schema: waitForOptionsSchema, value: options },
    ]);
    const regex = typeof pattern === 'string' ? new RegExp(escapeRegExp(pattern)) : pattern;
    const timeoutMs = options.timeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      options.signal?.throwIfAborted();
      const text = await this.read();
      regex.lastIndex = 0;
      const match = regex.exec(text);
      if (match) return match;
      if (Date.now() >= deadline) throw this.#timeout(regex, timeoutMs, text);
      const wait = Math.min(this.#pollMs, Math.max(0, deadline - Date.now()));
      await sleep(wait, undefined, options.signal ? { signal: options.signal } : {}).catch(
        (error: unknown) => {
          options.signal?.throwIfAborted();
          throw error;
        },
      );
    }
  }

  #timeout(regex: RegExp, timeoutMs: number, text: string): TimeoutError {
    const tail = lastLines(text, 20);
    const error = new TimeoutError(
      `Waiting for ${regex} on the serial console of ${this.options.machineName}`,
      timeoutMs,
      {
        fix: `Read the console log ${this.path}: did the guest boot, and does its image print that line?`,
      },
    );
    error.message += tail
      ? `\n  Last console lines:\n    ${tail.split('\n').join('\n    ')}`
      : '\n  The console is empty: the guest printed nothing.';
    return error;
  }

  async #readFrom(offset: number): Promise<Buffer> {
    let handle: Awaited<ReturnType<typeof open>> | undefined;
    await this.options.refresh?.();
    try {
      handle = await open(this.path, 'r');
      const { size } = await handle.stat();
      if (size <= offset) return Buffer.alloc(0);
      const buffer = Buffer.alloc(size - offset);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      return buffer.subarray(0, bytesRead);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
      throw error;
    } finally {
      await handle?.close();
    }
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
