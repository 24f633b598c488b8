import * as fs from 'node:fs';

/** Bytes per read from a packed file and per buffered write to an extracted one. */
const CHUNK = 1024 * 1024;

/**
 * The file system tar-fs packs from and extracts to, moving file content in 1 MiB chunks instead
 * of Node's 64 KiB reads and 16 KiB write buffer. Each chunk costs a round through the event loop
 * (and a write to the engine's socket); with the defaults a 50 MiB copy to or from a container
 * took ≈ 1.4× as long as `docker cp`, the same within noise with 1 MiB.
 */
export const tarFsIo = {
  ...fs,
  createReadStream: (path: fs.PathLike, options?: { start?: number; end?: number }) =>
    fs.createReadStream(path, { ...options, highWaterMark: CHUNK }),
  createWriteStream: (path: fs.PathLike, options?: { flags?: string; mode?: number }) =>
    fs.createWriteStream(path, { ...options, highWaterMark: CHUNK }),
};
