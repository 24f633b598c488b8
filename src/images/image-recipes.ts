import { didYouMean } from '../core/did-you-mean.js';
import { ImageNotFoundError } from '../core/errors.js';
import { debian12Recipe } from './debian-12-recipe.js';
import type { ImageRecipe } from './image-recipe.js';
import { tinyContainerRecipe } from './tiny-container-recipe.js';
import { tinyVmRecipe } from './tiny-vm-recipe.js';

/** The recipes testbed ships, by name. */
export function builtInRecipes(): ImageRecipe[] {
  return [tinyVmRecipe(), debian12Recipe(), tinyContainerRecipe()];
}

/** The built-in recipe called `name`; `ImageNotFoundError` lists the known names otherwise. */
export function findRecipe(
  name: string,
  recipes: readonly ImageRecipe[] = builtInRecipes(),
): ImageRecipe {
  const recipe = recipes.find((r) => r.name === name);
  if (recipe) return recipe;
  const names = recipes.map((r) => r.name);
  const guess = didYouMean(name, names);
  throw new ImageNotFoundError(name, {
    fix: `${guess ? `Did you mean '${guess}'? ` : ''}Known images: ${names.join(', ')}.`,
  });
}
