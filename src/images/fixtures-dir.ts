import { fileURLToPath } from 'node:url';

/** The folder holding the image recipes shipped with testbed (`fixtures/images/<name>`). */
export function recipeDir(name: string): string {
  // Two levels up from src/images or dist/images is the package root, where fixtures/ ships.
  return fileURLToPath(new URL(`../../fixtures/images/${name}/`, import.meta.url));
}
