import type { ReadySignal } from '../../images/resolve-vm-image.js';

/** A bootable base image: a qcow2 disk and, for direct kernel boot, kernel, initrd and command line. */
export interface VmImage {
  /** Base disk; overlays are created on it, it is never written. */
  base: string;
  /** Format of the base disk. Default qcow2. */
  format?: 'qcow2' | 'raw' | undefined;
  /** Kernel for direct boot. */
  kernel?: string | undefined;
  /** Initrd for direct boot. */
  initrd?: string | undefined;
  /** Kernel command line for direct boot. */
  cmdline?: string | undefined;
  /** The user the seed's key is for (from the image's manifest). */
  sshUser?: string | undefined;
  /** How a machine booted from it tells it is ready (from the image's manifest). */
  ready?: ReadySignal | undefined;
}

/** Finds (or builds) the image a spec names: a cached image name or a qcow2 path. */
export type VmImageResolver = (nameOrPath: string, signal?: AbortSignal) => Promise<VmImage>;
