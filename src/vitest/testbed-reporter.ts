import { relative } from 'node:path';
import type { Reporter, TestCase, Vitest } from 'vitest/node';
import { type FailureDiagnostics, formatDiagnostics } from '../harness/failure-diagnostics.js';
import type { MachineStart } from '../harness/machine-start.js';
import { formatMachineSummary } from '../harness/machine-summary.js';

/**
 * At the end of a run, prints why tests were skipped for unmet needs (Vitest's default reporter
 * hides skip notes), the machine diagnostics recorded in `task.meta.testbed` of failed tests, and
 * how test-scoped machines started (warm templates, restores, cold boots, teardown waits).
 */
export class TestbedReporter implements Reporter {
  #vitest: Vitest | undefined;
  readonly #failed: { name: string; diagnostics: FailureDiagnostics[] }[] = [];
  readonly #unmet: { name: string; reason: string }[] = [];
  readonly #started: MachineStart[] = [];

  onInit(vitest: Vitest): void {
    this.#vitest = vitest;
  }

  onTestCaseResult(testCase: TestCase): void {
    const meta = testCase.meta() as {
      testbed?: FailureDiagnostics[];
      testbedUnmet?: string;
      testbedMachine?: MachineStart;
    };
    if (meta.testbedMachine) this.#started.push(meta.testbedMachine);
    // `module.relativeModuleId` is Vitest 4 only.
    const file = relative(testCase.project.config.root, testCase.module.moduleId);
    const name = `${file} > ${testCase.fullName}`;
    const { state } = testCase.result();
    if (state === 'skipped' && meta.testbedUnmet)
      this.#unmet.push({ name, reason: meta.testbedUnmet });
    if (state === 'failed' && meta.testbed?.length) {
      this.#failed.push({ name, diagnostics: meta.testbed });
    }
  }

  onTestRunEnd(): void {
    const summary = formatMachineSummary(this.#started.splice(0));
    if (this.#failed.length === 0 && this.#unmet.length === 0 && !summary) return;
    const lines: string[] = [];
    if (summary) lines.push('', summary);
    if (this.#unmet.length > 0) lines.push('', 'testbed: tests skipped for unmet needs');
    for (const { name, reason } of this.#unmet.splice(0)) {
      lines.push(` ↓ ${name}`, reason.replace(/^/gm, '   '));
    }
    if (this.#failed.length > 0) lines.push('', 'testbed: machines of failed tests');
    for (const { name, diagnostics } of this.#failed.splice(0)) {
      lines.push(` FAIL ${name}`, formatDiagnostics(diagnostics).replace(/^/gm, '   '));
    }
    const text = lines.join('\n');
    if (this.#vitest) this.#vitest.logger.log(text);
    else console.log(text);
  }
}
