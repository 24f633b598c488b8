import { describe, expect, it } from 'vitest';
import { ScopeStore } from '../../src/vitest/scope-store.js';

describe('ScopeStore', () => {
  it('creates a value once per key and releases all, newest first', async () => {
    const store = new ScopeStore();
    const released: string[] = [];
    const [a, b] = [Symbol('a'), Symbol('b')];
    const release = async (v: string) => {
      released.push(v);
    };
    let made = 0;
    const make = (v: string) => async () => `${v}${++made}`;
    expect(await store.get(a, make('a'), release)).toBe('a1');
    expect(await store.get(b, make('b'), release)).toBe('b2');
    expect(await store.get(a, make('a'), release)).toBe('a1');
    await store.releaseAll(() => {});
    expect(released).toEqual(['b2', 'a1']);
    expect(await store.get(a, make('a'), release)).toBe('a3');
  });

  it('does not retry a failed creation, and releases the rest around failures', async () => {
    const store = new ScopeStore();
    const released: string[] = [];
    const reports: string[] = [];
    let attempts = 0;
    const failing = async (): Promise<string> => {
      attempts += 1;
      throw new Error('no machine');
    };
    await store.get(
      Symbol('ok'),
      async () => 'ok',
      async (v) => void released.push(v),
    );
    await expect(store.get(Symbol('bad'), failing, async () => {})).rejects.toThrow('no machine');
    const stuck = Symbol('stuck');
    await store.get(
      stuck,
      async () => 'stuck',
      async () => {
        throw new Error('cannot release');
      },
    );
    const bad = Symbol('bad twice');
    await expect(store.get(bad, failing, async () => {})).rejects.toThrow();
    await expect(store.get(bad, failing, async () => {})).rejects.toThrow();
    expect(attempts).toBe(2);
    await store.releaseAll((m) => reports.push(m));
    expect(released).toEqual(['ok']);
    expect(reports).toEqual(['testbed: could not release a scoped resource: cannot release']);
  });
});
