import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { execa } from 'execa';
import { childEnv, type JsonReport } from '../../fixtures/run-vitest.js';

const repo = resolve(import.meta.dirname, '../../..');

/** How a child `vitest run` ended. */
export interface ChildExit {
  exitCode: number | undefined;
  signal: string | undefined;
  /** Vitest's JSON report; absent when the process was killed before writing it. */
  report: JsonReport | undefined;
}

/** A child `vitest run` in progress: its pid, everything it printed so far, and its end. */
export interface ChildVitest {
  readonly pid: number;
  /** Standard output and error, interleaved, so far. */
  output(): string;
  /** The first match of `pattern` in the output; rejects if the child exits without one. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** True once the process has exited. */
  hasExited(): boolean;
  kill(signal: NodeJS.Signals): void;
  readonly exited: Promise<ChildExit>;
}

/** Starts `vitest run` in a fixture project as a user would, with the JSON reporter. */
export function startVitest(root: string, env: Record<string, string>): ChildVitest {
  const reportDir = mkdtempSync(join(tmpdir(), 'testbed-kill-report-'));
  const reportFile = join(reportDir, 'report.json');
  const child = execa(
    join(repo, 'node_modules/.bin/vitest'),
    [
      'run',
      '--root',
      root,
      '--reporter=default',
      '--reporter=json',
      `--outputFile.json=${reportFile}`,
    ],
    { cwd: root, env: childEnv(env), extendEnv: false, reject: false, all: true },
  );
  if (child.pid === undefined) throw new Error(`could not start vitest in ${root}`);
  let output = '';
  const listeners = new Set<() => void>();
  child.all?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    for (const listener of listeners) listener();
  });
  let ended = false;
  const exited = child.then((result) => {
    ended = true;
    let report: JsonReport | undefined;
    try {
      report = JSON.parse(readFileSync(reportFile, 'utf8')) as JsonReport;
    } catch {
      report = undefined;
    }
    rmSync(dirname(reportFile), { recursive: true, force: true });
    for (const listener of listeners) listener();
    return { exitCode: result.exitCode, signal: result.signal, report };
  });
  return {
    pid: child.pid,
    output: () => output,
    waitForOutput(pattern, timeoutMs = 120_000) {
      return new Promise((resolvePattern, reject) => {
        const check = () => {
          const match = pattern.exec(output);
          if (!match && !ended) return;
          listeners.delete(check);
          clearTimeout(timer);
          if (match) resolvePattern(match);
          else reject(new Error(`vitest exited without printing ${pattern}:\n${output}`));
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`vitest printed no ${pattern} within ${timeoutMs} ms:\n${output}`));
        }, timeoutMs);
        listeners.add(check);
        check();
      });
    },
    hasExited: () => ended,
    kill: (signal) => child.kill(signal),
    exited,
  };
}
