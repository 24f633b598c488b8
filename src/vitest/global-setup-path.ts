import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Absolute path of the global setup module beside this one: `.js` in dist, `.ts` in the sources. */
export function globalSetupPath(base: string | URL = import.meta.url): string {
  const js = fileURLToPath(new URL('./global-setup.js', base));
  return existsSync(js) ? js : fileURLToPath(new URL('./global-setup.ts', base));
}
