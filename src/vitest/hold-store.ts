import { ScopeStore } from './scope-store.js';

/**
 * A fixture holding one `ScopeStore` for its scope (worker or file), released when the scope
 * ends; cleanup problems are printed, never thrown, so the other releases still run.
 */
// biome-ignore lint/correctness/noEmptyPattern: Vitest reads fixture dependencies from a destructured first argument.
export async function holdStore({}, use: (store: ScopeStore) => Promise<void>): Promise<void> {
  const store = new ScopeStore();
  await use(store);
  await store.releaseAll((message) => console.error(message));
}
