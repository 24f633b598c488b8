import { describe, expect, it } from 'vitest';
import { parseTestbedOptions } from '../../src/harness/testbed-options.js';
import { ConfigError } from '../../src/index.js';

function problemsOf(input: unknown): string {
  try {
    parseTestbedOptions(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('parseTestbedOptions', () => {
  it('applies defaults', () => {
    expect(parseTestbedOptions({})).toEqual({
      machines: [],
      networks: {},
      onUnmet: 'skip',
      keepOnFailure: false,
      timeoutMs: undefined,
      providers: undefined,
      registry: undefined,
      warm: undefined,
    });
    expect(parseTestbedOptions({ warm: false }).warm).toBe(false);
  });

  it('keeps machines in declaration order with needs in canonical form', () => {
    const options = parseTestbedOptions({
      machines: {
        web: { needs: ['SerialConsole', { kind: 'VmType', type: 'FullVirt' }] },
        db: { needs: ['Exec'], spec: { image: 'tiny', memoryMiB: 256, extra: 1 } },
      },
      onUnmet: 'fail',
    });
    expect(options.machines).toEqual([
      { name: 'web', needs: ['SerialConsole', 'VmType(FullVirt)'], spec: {} },
      { name: 'db', needs: ['Exec'], spec: { image: 'tiny', memoryMiB: 256, extra: 1 } },
    ]);
    expect(options.onUnmet).toBe('fail');
  });

  it('names a misspelled option and suggests the right one', () => {
    const message = problemsOf({ keepOnFailur: true });
    expect(message).toContain('keepOnFailur: unknown option');
    expect(message).toContain("did you mean 'keepOnFailure'?");
  });

  it('names a misspelled option inside a machine', () => {
    expect(problemsOf({ machines: { web: { need: ['Exec'] } } })).toMatch(
      /machines\.web\.need: unknown option; did you mean 'needs'\?/,
    );
  });

  it('reports every problem at once, with its path', () => {
    const message = problemsOf({
      onUnmet: 'ignore',
      timeoutMs: -1,
      machines: { web: { needs: ['SerialConsol', 'Exec'] } },
    });
    expect(message).toContain('3 problems');
    expect(message).toContain('onUnmet:');
    expect(message).toContain('timeoutMs:');
    expect(message).toMatch(/machines\.web\.needs\[0\]: .*Did you mean 'SerialConsole'\?/);
  });
});
