import type { Reporter, TestCase, Vitest } from 'vitest/node';
import { type FailureDiagnostics, formatDiagnostics } from '../harness/failure-diagnostics.js';

/** Prints the machine diagnostics recorded in `task.meta.testbed` under each failed test. */
export class TestbedReporter implements Reporter {
  #vitest: Vitest | undefined;
  readonly #failed: { name: string; diagnostics: FailureDiagnostics[] }[] = [];

  onInit(vitest: Vitest): void {
    this.#vitest = vitest;
  }

  onTestCaseResult(testCase: TestCase): void {
    if (testCase.result().state !== 'failed') return;
    const diagnostics = (testCase.meta() as { testbed?: FailureDiagnostics[] }).testbed;
    if (!diagnostics?.length) return;
    this.#failed.push({
      name: `${testCase.module.relativeModuleId} > ${testCase.fullName}`,
      diagnostics,
    });
  }

  onTestRunEnd(): void {
    if (this.#failed.length === 0) return;
    const lines = ['', 'testbed: machines of failed tests'];
    for (const { name, diagnostics } of this.#failed.splice(0)) {
      lines.push(` FAIL ${name}`, formatDiagnostics(diagnostics).replace(/^/gm, '   '));
    }
    const text = lines.join('\n');
    if (this.#vitest) this.#vitest.logger.log(text);
    else console.log(text);
  }
}
