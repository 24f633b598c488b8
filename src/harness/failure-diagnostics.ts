import type { VmType } from '../core/capabilities.js';
import type { Machine } from '../core/provider.js';
import { withTimeout } from '../core/with-timeout.js';
import { describeError } from './describe-error.js';

/** What a failed test's report says about one machine it used (plain data, lands in `task.meta`). */
export interface FailureDiagnostics {
  /** Provider that created the machine. */
  provider: string;
  /** The machine's backend-level name. */
  machine: string;
  /** Kind of machine. */
  vmType: VmType;
  /** The last lines of the machine's console (serial port or container log), when it has one. */
  consoleTail?: string;
  /** Why the console could not be read, when it could not. */
  consoleError?: string;
  /** Host-side files worth inspecting (overlay, logs). */
  artifacts?: Record<string, string>;
  /** True when the artifacts are kept on disk after the run (`keepOnFailure`). */
  kept: boolean;
}

/** Gathers a machine's diagnostics for a failed test; bounded in time and never throws. */
export async function collectDiagnostics(
  machine: Machine,
  options: { keep: boolean; lines?: number; timeoutMs?: number },
): Promise<FailureDiagnostics> {
  const out: FailureDiagnostics = {
    provider: machine.providerId,
    machine: machine.name,
    vmType: machine.vmType,
    kept: options.keep,
  };
  const console = machine.console;
  if (console) {
    try {
      out.consoleTail = await withTimeout(
        'reading the console tail',
        options.timeoutMs ?? 5000,
        () => console.tail(options.lines ?? 30),
      );
    } catch (error) {
      out.consoleError = describeError(error);
    }
  }
  if (machine.artifacts && Object.keys(machine.artifacts).length > 0) {
    out.artifacts = { ...machine.artifacts };
  }
  return out;
}

/** Diagnostics as the text printed under a failed test. */
export function formatDiagnostics(diagnostics: readonly FailureDiagnostics[]): string {
  return diagnostics
    .map((d) => {
      const lines = [`machine ${d.machine} (${d.provider}, ${d.vmType})`];
      if (d.consoleTail !== undefined) {
        lines.push('  console tail:', ...d.consoleTail.split('\n').map((l) => `    | ${l}`));
      }
      if (d.consoleError) lines.push(`  console unavailable: ${d.consoleError}`);
      if (d.artifacts) {
        lines.push(
          d.kept
            ? '  kept for inspection:'
            : '  artifacts (removed with the machine; set keepOnFailure to keep them):',
        );
        for (const [what, path] of Object.entries(d.artifacts)) lines.push(`    ${what}: ${path}`);
      }
      return lines.join('\n');
    })
    .join('\n');
}
