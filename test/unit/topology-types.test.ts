import type { TestAPI } from 'vitest';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { ExecFunction } from '../../src/core/provider.js';
import type { TopologyNetwork } from '../../src/harness/topology.js';
import { testbedTest } from '../../src/vitest/testbed-test.js';

type FixturesOf<T> = T extends TestAPI<infer Fixtures> ? Fixtures : never;

describe('testbedTest({ machines, networks })', () => {
  it('types each member by its own needs, and networks by name', () => {
    const topology = testbedTest({
      machines: {
        db: { needs: ['VmType(Container)', 'Exec'] },
        app: { needs: ['SshAccess', 'PowerControl'] },
      },
      networks: { lan: ['db', 'app'] },
    });
    type Context = FixturesOf<typeof topology>;
    expectTypeOf<Context['machines']['db']['exec']>().toEqualTypeOf<ExecFunction>();
    expectTypeOf<Context['machines']['app']['crash']>().toBeFunction();
    expectTypeOf<Context['machines']['db']['crash']>().toBeNullable();
    expectTypeOf<Context['networks']['lan']>().toEqualTypeOf<TopologyNetwork>();
  });

  it('refuses a network naming an undeclared member (a type error) and unknown needs (at the call)', () => {
    // @ts-expect-error 'cache' is not a declared machine
    testbedTest({ machines: { db: { needs: ['Exec'] } }, networks: { lan: ['db', 'cache'] } });
    expect(() => testbedTest({ machines: { db: { needs: ['Exek' as 'Exec'] } } })).toThrow(
      /Unknown capability "Exek".*Did you mean 'Exec'/,
    );
  });
});
