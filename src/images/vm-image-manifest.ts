import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

const file = z.object({ path: z.string(), sizeBytes: z.number(), sha256: z.string() });

/** Schema of `manifest.json` in a built VM image directory. */
export const vmImageManifestSchema = z.object({
  name: z.string(),
  recipeVersion: z.number(),
  key: z.string(),
  builtAt: z.string(),
  kernelVersion: z.string(),
  cmdline: z.string(),
  sshUser: z.string(),
  readinessPattern: z.string(),
  virtualSizeBytes: z.number(),
  files: z.object({ base: file, kernel: file, initrd: file }),
  modules: z.array(z.string()),
  inputs: z.object({
    recipeFiles: z.record(z.string(), z.string()),
    packages: z.array(z.object({ name: z.string(), version: z.string(), sha256: z.string() })),
  }),
});

/**
 * What a VM image build produced: kernel version, boot command line, readiness line, and size and
 * SHA-256 of every input and output. `files.*.path` are relative to the image directory.
 */
export type VmImageManifest = z.infer<typeof vmImageManifestSchema>;

/** Name of the manifest inside an image directory. */
export const MANIFEST_FILE = 'manifest.json';

/** Reads and validates `dir/manifest.json`. */
export async function readVmImageManifest(dir: string): Promise<VmImageManifest> {
  const text = await readFile(join(dir, MANIFEST_FILE), 'utf8');
  return vmImageManifestSchema.parse(JSON.parse(text));
}
