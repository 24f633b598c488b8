import type { Readable } from 'node:stream';
import { TimeoutError } from '../../core/errors.js';
import {
  checkArguments,
  consolePatternSchema,
  waitForOptionsSchema,
} from '../../core/option-schemas.js';
import type { MachineConsole, WaitForOptions } from '../../core/provider.js';

const DEFAULT_WAIT_MS = 30_000;

/**
 * A container's log stream behind the serial-console API: it follows the log from the beginning
 * once, keeps the text, and serves `read`, `stream`, `waitFor` and `tail` from that buffer, so it
 * still answers after the container is gone.
 */
export class LogConsole implements MachineConsole {
  #text = '';
  #ended = false;
  #source: Readable | undefined;
  readonly #listeners = new Set<() => void>();
  readonly #opened: Promise<void>;

  /** `open` returns the container's log from its first line, following new output. */
  constructor(
    open: () => Promise<Readable>,
    readonly label: string,
  ) {
    this.#opened = open().then(
      (source) => this.#attach(source),
      () => this.#end(),
    );
  }

  #attach(source: Readable): void {
    this.#source = source;
    source.setEncoding('utf8');
    // A source replaced by `follow` may still end late: only the current one ends the log.
    const end = () => {
      if (this.#source === source) this.#end();
    };
    source.on('data', (chunk: string) => this.#append(chunk));
    source.once('end', end);
    source.once('close', end);
    source.once('error', end);
  }

  /**
   * Follows the log anew from `open` once a stopped container started again (its old stream
   * ended with it), keeping everything read so far.
   */
  async follow(open: () => Promise<Readable>): Promise<void> {
    await this.#opened;
    const previous = this.#source;
    this.#source = undefined;
    previous?.destroy();
    this.#ended = false;
    try {
      this.#attach(await open());
    } catch {
      this.#end();
    }
  }

  #append(chunk: string): void {
    this.#text += chunk;
    for (const listener of this.#listeners) listener();
  }

  #end(): void {
    this.#ended = true;
    for (const listener of this.#listeners) listener();
  }

  /** Stops following the log; what was read stays readable. */
  close(): void {
    this.#source?.destroy();
    this.#end();
  }

  /** Everything the container wrote to stdout and stderr so far. */
  async read(): Promise<string> {
    await this.#opened;
    return this.#text;
  }

  /** The log as it arrives, from the beginning, until the signal aborts or the container is gone. */
  async *stream(signal?: AbortSignal): AsyncIterable<string> {
    await this.#opened;
    let offset = 0;
    while (!signal?.aborted) {
      if (offset < this.#text.length) {
        const chunk = this.#text.slice(offset);
        offset = this.#text.length;
        yield chunk;
        continue;
      }
      if (this.#ended) return;
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#listeners.delete(wake);
          signal?.removeEventListener('abort', wake);
          resolve();
        };
        this.#listeners.add(wake);
        signal?.addEventListener('abort', wake, { once: true });
      });
    }
  }

  /** Resolves with the first match of `pattern`; rejects with the log's last lines on timeout. */
  async waitFor(pattern: string | RegExp, options: WaitForOptions = {}): Promise<RegExpExecArray> {
    checkArguments('console.waitFor()', [
      { name: 'pattern', schema: consolePatternSchema, value: pattern },
      { name: 'options', schema: waitForOptionsSchema, value: options },
    ]);
    await this.#opened;
    const regexp =
      typeof pattern === 'string'
        ? new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        : new RegExp(pattern.source, pattern.flags.replace('g', '').replace('y', ''));
    const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_MS;
    const signal = options.signal;
    signal?.throwIfAborted();
    return new Promise<RegExpExecArray>((resolve, reject) => {
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        this.#listeners.delete(check);
        signal?.removeEventListener('abort', onAbort);
        settle();
      };
      const check = () => {
        const match = regexp.exec(this.#text);
        if (match) finish(() => resolve(match));
      };
      const onAbort = () => finish(() => reject(signal?.reason));
      const timer = setTimeout(() => {
        const gone = this.#ended ? ' The log has ended: the container stopped.' : '';
        const last = this.#tailOf(20).split('\n').join('\n    ') || '(no output)';
        finish(() =>
          reject(
            new TimeoutError(`waitFor(${String(regexp)}) on the log of ${this.label}`, timeoutMs, {
              fix: `Check the pattern against the output, or wait longer.${gone} Last lines:\n    ${last}`,
            }),
          ),
        );
      }, timeoutMs);
      this.#listeners.add(check);
      signal?.addEventListener('abort', onAbort, { once: true });
      check();
    });
  }

  /** The last `lines` lines of the log, for error reports. */
  async tail(lines = 20): Promise<string> {
    await this.#opened;
    return this.#tailOf(lines);
  }

  #tailOf(lines: number): string {
    const all = this.#text.replace(/\n$/, '').split('\n');
    return all.slice(-lines).join('\n');
  }
}
