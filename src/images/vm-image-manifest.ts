import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

const file = z.object({ path: z.string(), sizeBytes: z.number(), sha256: z.string() });

/**
 * How a machine booted from an image tells that it is ready:
 * - `console`: a line matching `pattern` (a regular expression) on the serial console;
 * - `ssh`: SSH as the image's user answers;
 * - `cloud-init`: cloud-init finished (`cloud-init status --wait` over SSH succeeds; the console
 *   also prints `Cloud-init v. <version> finished at ...`).
 */
export const readySignalSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('console'), pattern: z.string() }),
  z.object({ kind: z.literal('ssh') }),
  z.object({ kind: z.literal('cloud-init') }),
]);

/** How a machine booted from an image tells that it is ready. */
export type ReadySignal = z.infer<typeof readySignalSchema>;

const installedPackage = z.object({
  name: z.string(),
  version: z.string(),
  architecture: z.string(),
});

/**
 * Schema of `manifest.json` in a built VM image directory. Fields added after the first tiny-vm
 * builds have defaults, so manifests written before them still read: `boot: 'direct'`,
 * `firmware: 'bios'`, `ready` from `readinessPattern`.
 */
export const vmImageManifestSchema = z
  .object({
    name: z.string(),
    recipeVersion: z.number(),
    key: z.string(),
    builtAt: z.string(),
    /** `direct`: QEMU loads `files.kernel`/`files.initrd`; `disk`: the disk boots its own loader. */
    boot: z.enum(['direct', 'disk']).default('direct'),
    /** Firmware the disk boots with (`disk` boot); `bios` (SeaBIOS) for direct boot too. */
    firmware: z.enum(['bios', 'uefi']).default('bios'),
    kernelVersion: z.string(),
    /** Kernel command line: passed by QEMU (direct boot) or written into the boot loader (disk). */
    cmdline: z.string().optional(),
    /** The user the seed's SSH key is authorized for. */
    sshUser: z.string(),
    /** How the machine tells it is ready. */
    ready: readySignalSchema.optional(),
    /** Deprecated: a console line that marks readiness; use `ready`. */
    readinessPattern: z.string(),
    /** Size of the disk the guest sees. */
    virtualSizeBytes: z.number(),
    /** Filesystem UUID of the root filesystem (`root=UUID=...`). */
    rootFsUuid: z.string().optional(),
    files: z.object({ base: file, kernel: file.optional(), initrd: file.optional() }),
    /** Kernel modules in the tiny initramfs (direct boot images). */
    modules: z.array(z.string()).default([]),
    /** Every Debian package installed in the image (full distribution images). */
    installed: z.array(installedPackage).optional(),
    inputs: z.object({
      recipeFiles: z.record(z.string(), z.string()),
      packages: z.array(z.object({ name: z.string(), version: z.string(), sha256: z.string() })),
    }),
  })
  .transform(({ ready, ...manifest }) => ({
    ...manifest,
    ready: ready ?? ({ kind: 'console', pattern: manifest.readinessPattern } as ReadySignal),
  }));

/**
 * What a VM image build produced: how it boots and tells it is ready, kernel version, and size
 * and SHA-256 of every input and output. `files.*.path` are relative to the image directory.
 */
export type VmImageManifest = z.output<typeof vmImageManifestSchema>;

/** A manifest as a recipe writes it (fields with defaults may be left out). */
export type VmImageManifestInput = z.input<typeof vmImageManifestSchema>;

/** Name of the manifest inside an image directory. */
export const MANIFEST_FILE = 'manifest.json';

/** Reads and validates `dir/manifest.json`. */
export async function readVmImageManifest(dir: string): Promise<VmImageManifest> {
  const text = await readFile(join(dir, MANIFEST_FILE), 'utf8');
  return vmImageManifestSchema.parse(JSON.parse(text));
}
