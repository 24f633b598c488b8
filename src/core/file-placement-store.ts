import { mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PlacementStore } from './placement-ledger.js';
import type { Resources } from './provider.js';

/** Where a run's placements are counted: beside the run directories, which the libvirt provider owns. */
export function placementDir(stateDir: string, runId: string): string {
  return join(stateDir, 'placements', runId);
}

let sequence = 0;

/** A provider found down is a file `down~<id>` holding the reason, beside the placements. */
const DOWN = 'down~';

/**
 * A placement store every process of a run shares (the main process and each worker): one empty
 * file per placement, its name holding provider and demand, so counting is one `readdir`; and a
 * file per provider found down, so no other worker pays for finding it. Placement is a hint: a
 * directory that cannot be written or read counts nothing rather than failing a test.
 */
export function filePlacementStore(dir: string): PlacementStore {
  return {
    add(providerId, demand) {
      const name = [
        encodeURIComponent(providerId),
        `${process.pid}-${++sequence}`,
        Math.round(demand.memoryMiB),
        Math.round(demand.vcpus),
      ].join('~');
      const path = join(dir, name);
      // Twice: a release in another process may remove the emptied directory in between.
      const written = [1, 2].some(() => {
        try {
          mkdirSync(dir, { recursive: true });
          writeFileSync(path, '');
          return true;
        } catch {
          return false;
        }
      });
      if (!written) return () => {};
      return () => {
        try {
          rmSync(path, { force: true });
          // The last release takes the directory along, so test processes leave nothing.
          rmdirSync(dir);
        } catch {
          // Not empty (other placements), or already gone: the run's end removes the rest.
        }
      };
    },
    read() {
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        return {};
      }
      const placed: Record<string, Resources> = {};
      for (const name of names) {
        if (name.startsWith(DOWN)) continue;
        const [id, , memory, vcpus] = name.split('~');
        if (!id || memory === undefined || vcpus === undefined) continue;
        const providerId = decodeURIComponent(id);
        const now = placed[providerId] ?? { memoryMiB: 0, vcpus: 0 };
        placed[providerId] = {
          memoryMiB: now.memoryMiB + (Number(memory) || 0),
          vcpus: now.vcpus + (Number(vcpus) || 0),
        };
      }
      return placed;
    },
    markDown(providerId, reason) {
      try {
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, `${DOWN}${encodeURIComponent(providerId)}`), reason);
      } catch {
        // Unwritable: the other processes find the host down for themselves.
      }
    },
    down() {
      let names: string[];
      try {
        names = readdirSync(dir).filter((name) => name.startsWith(DOWN));
      } catch {
        return {};
      }
      const down: Record<string, string> = {};
      for (const name of names) {
        try {
          down[decodeURIComponent(name.slice(DOWN.length))] = readFileSync(join(dir, name), 'utf8');
        } catch {
          // Removed meanwhile (the run ended).
        }
      }
      return down;
    },
  };
}

/** Removes a run's placement records, at the run's end; never throws (they are a hint). */
export function removePlacements(stateDir: string, runId: string): void {
  try {
    rmSync(placementDir(stateDir, runId), { recursive: true, force: true });
  } catch {
    // A state directory gone read-only keeps a few empty files; nothing reads them again.
  }
}
