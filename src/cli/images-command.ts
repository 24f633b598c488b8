import type { CAC } from 'cac';
import { loadConfig } from '../core/config.js';
import { ConfigError } from '../core/errors.js';
import { ensureImage } from '../images/ensure-image.js';
import { builtInRecipes } from '../images/image-recipes.js';
import { type CachedImage, listImages } from '../images/list-images.js';
import { removeImage } from '../images/remove-image.js';
import { listTemplates, type TemplateEntry } from '../images/template-store.js';
import type { CliIo } from './cli-io.js';

const ACTIONS = ['build', 'ls', 'rm'] as const;

function formatSize(bytes: number): string {
  return bytes >= 1024 * 1024
    ? `${(bytes / 1024 / 1024).toFixed(1)} MiB`
    : `${(bytes / 1024).toFixed(0)} KiB`;
}

/** Rows under a header, each column as wide as its widest cell. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => cell.padEnd(widths[c] ?? 0))
      .join('  ')
      .trimEnd();
  return `${[header, ...rows].map(line).join('\n')}\n`;
}

const when = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');

function renderImages(images: readonly CachedImage[], templates: readonly TemplateEntry[]): string {
  const out: string[] = [];
  if (images.length === 0) out.push('No images are cached. Build one: testbed images build\n');
  else {
    const rows = images.map((i) => [
      i.current ? `${i.name} *` : i.name,
      i.kind,
      i.key,
      formatSize(i.sizeBytes),
      i.builtAt.slice(0, 19).replace('T', ' '),
      i.location,
    ]);
    out.push(table(['NAME', 'KIND', 'KEY', 'SIZE', 'BUILT', 'LOCATION'], rows));
    out.push('(* = the build in use)\n');
  }
  if (templates.length > 0) {
    const rows = templates.map((t) => [
      t.label,
      t.key.slice(0, 16),
      formatSize(t.bytes),
      when(t.lastUsedAt),
      when(t.createdAt),
      `${t.fingerprint.versions ?? '?'}, ${t.fingerprint.accelerator ?? '?'}`,
    ]);
    out.push('\nWarm templates (kept across runs; `testbed gc` prunes them):\n');
    out.push(table(['TEMPLATE', 'KEY', 'SIZE', 'LAST USED', 'MADE', 'FOR'], rows));
  }
  return out.join('');
}

/** Options of `testbed images`. */
interface ImagesOptions {
  json?: boolean;
  force?: boolean;
}

async function runImagesAction(
  io: CliIo,
  action: string,
  name: string | undefined,
  options: ImagesOptions,
): Promise<number> {
  if (!(ACTIONS as readonly string[]).includes(action)) {
    throw new ConfigError(
      [{ path: 'action', message: `must be one of ${ACTIONS.join(', ')} (got '${action}')` }],
      { subject: '`testbed images` arguments', fix: 'Run `testbed images --help`.' },
    );
  }
  if (action === 'build') {
    const names = name ? [name] : builtInRecipes().map((r) => r.name);
    for (const n of names) {
      const image = await ensureImage(n, { force: options.force === true });
      const verb = image.built
        ? `built in ${(image.durationMs / 1000).toFixed(1)} s`
        : 'up to date';
      io.stdout(`${image.name} ${image.key} ${verb}: ${image.location}\n`);
    }
  } else if (action === 'ls') {
    const { images, problems } = await listImages();
    const shown = name ? images.filter((i) => i.name === name) : images;
    const templates = (await listTemplates(loadConfig().templateDir)).filter(
      (t) => !name || t.label.endsWith(` ${name}`),
    );
    io.stdout(
      options.json
        ? `${JSON.stringify({ images: shown, templates }, null, 2)}\n`
        : renderImages(shown, templates),
    );
    for (const problem of problems) io.stderr(`testbed: ${problem}\n`);
    if (problems.length > 0) return 1;
  } else {
    if (!name) {
      throw new ConfigError([{ path: 'name', message: 'rm needs an image name' }], {
        subject: '`testbed images` arguments',
        fix: 'Run `testbed images ls` to see the names, e.g. `testbed images rm tiny-vm`.',
      });
    }
    const removed = await removeImage(name);
    io.stdout(
      removed.length === 0
        ? `${name}: nothing cached\n`
        : removed.map((r) => `removed ${r}\n`).join(''),
    );
  }
  return 0;
}

/**
 * Adds `testbed images build|ls|rm` to `cli`; the command's work is handed to `runAction`,
 * which resolves to the exit code.
 */
export function registerImagesCommand(
  cli: CAC,
  io: CliIo,
  runAction: (work: () => Promise<number>) => void,
): void {
  const recipes = builtInRecipes()
    .map((r) => `  ${r.name.padEnd(16)}${r.kind.padEnd(11)}${r.description}`)
    .join('\n');
  cli
    .command('images <action> [name]', 'Build, list and remove base images (build, ls, rm)')
    .usage(
      `images <build|ls|rm> [name]

Actions:
  build [name]    Build an image (default: all) from its recipe, or reuse the cached build
  ls [name]       List cached builds with kind, key, size and location, and the warm
                  templates kept across runs with size and last use
  rm <name>       Remove every cached build of an image

Images:
${recipes}`,
    )
    .option('--json', 'ls: print the list as JSON')
    .option('--force', 'build: rebuild even when an identical build is cached')
    .example('testbed images build            # every image; cached builds are reused')
    .example('testbed images build tiny-container')
    .example('testbed images ls --json')
    .example('testbed images rm tiny-vm')
    .action((action: string, name: string | undefined, options: ImagesOptions) => {
      runAction(() => runImagesAction(io, action, name, options));
    });
}
