import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { consolePatternSchema } from '../../src/core/option-schemas.js';
import { stateFromJson, stateToJson } from '../../src/providers/libvirt/machine-state-json.js';
import { Wait } from '../../src/wait/wait.js';

// Jest runs each test file in a vm context of its own: its RegExp and Uint8Array are not
// `instanceof` the library's.
const foreignRegExp = runInNewContext('/testbed-ready (\\S+)/') as RegExp;

describe('values made in another realm (Jest test files)', () => {
  it('a RegExp is a valid console pattern', () => {
    expect(foreignRegExp instanceof RegExp).toBe(false);
    expect(consolePatternSchema.safeParse(foreignRegExp).success).toBe(true);
    expect(() => Wait.forConsole(foreignRegExp)).not.toThrow();
  });

  it('a RegExp readiness pattern survives a stored state', () => {
    const state = { readiness: { readyPattern: foreignRegExp, cloudInit: false } };
    const back = stateFromJson<typeof state>(stateToJson(state));
    expect(back.readiness.readyPattern).toEqual(/testbed-ready (\S+)/);
  });
});
