import { createRequire } from 'node:module';
import { isAbsolute, resolve } from 'node:path';

/** Resolves a module option: a path relative to `root`, or a package name resolved from there. */
export function resolveModule(specifier: string, root: string): string {
  if (specifier.startsWith('.') || isAbsolute(specifier)) return resolve(root, specifier);
  return createRequire(resolve(root, 'package.json')).resolve(specifier);
}
